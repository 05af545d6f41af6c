# Lineage: the training run, code and data the model came from are recorded.
package gatekeeper.requirements.lineage

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"lineage"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"lineage.run_id", "lineage.code_commit", "lineage.training_dataset_digest"}

# METADATA
# description: run ID and code commit, each when the class requires it
violations contains v if {
	some ctx in lib.assessed
	some field, message in {
		"run_id": "the evidence records no training run (lineage.run_id)",
		"code_commit": "the evidence records no code commit (lineage.code_commit)",
	}
	ctx.requirements.lineage[field] == true
	not lib.filled(object.get(ctx.evidence, ["lineage", field], null))
	v := lib.violation(ctx, concat(".", ["lineage", field]), message, null, null)
}

# METADATA
# description: a training dataset with a digest, when the class requires it
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.lineage.training_dataset_digest == true
	not has_training_digest(ctx.evidence)
	message := "the evidence lists no training dataset (context: training) with a digest"
	v := lib.violation(ctx, "lineage.training_dataset_digest", message, null, null)
}

has_training_digest(evidence) if {
	some dataset in lib.as_array(object.get(evidence, ["lineage", "datasets"], []))
	dataset.context == "training"
	lib.filled(dataset.digest)
}
