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
	value := object.get(ctx.evidence, ["lineage", field], null)
	not recorded(value)
	v := lib.violation(ctx, concat(".", ["lineage", field]), missing_message(field, value, message), null, null)
}

# METADATA
# description: a training dataset with a digest, when the class requires it
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.lineage.training_dataset_digest == true
	not has_training_digest(ctx.evidence)
	message := concat("", [
		"the evidence lists no training dataset (context: training) with a digest",
		placeholder_note(ctx.evidence),
	])
	v := lib.violation(ctx, "lineage.training_dataset_digest", message, null, null)
}

has_training_digest(evidence) if {
	some dataset in training_datasets(evidence)
	recorded(dataset.digest)
}

training_datasets(evidence) := [dataset |
	some dataset in lib.as_array(object.get(evidence, ["lineage", "datasets"], []))
	dataset.context == "training"
]

# METADATA
# description: |
#   A lineage value that records something: text that is not empty and not a
#   placeholder (evidence.placeholders of the matrix: n/a, TODO, unknown, ...),
#   compared without case or surrounding spaces.
recorded(value) if {
	lib.filled(value)
	not placeholder(value)
}

placeholder(value) if lower(trim_space(value)) in placeholders

# METADATA
# description: the placeholder words of the matrix, lower case
placeholders contains lower(trim_space(word)) if {
	some word in lib.as_array(object.get(lib.matrix, ["evidence", "placeholders"], []))
	is_string(word)
}

missing_message(field, value, _) := sprintf("lineage.%s is '%s', a placeholder, not a recorded value", [
	field,
	value,
]) if {
	lib.filled(value)
}

missing_message(_, value, message) := message if not lib.filled(value)

# Why the training datasets listed do not count, when their digests are placeholders.
placeholder_note(evidence) := sprintf(" (%s)", [concat(", ", notes)]) if {
	notes := [sprintf("digest of '%s' is '%s', a placeholder", [lib.text(dataset.name), dataset.digest]) |
		some dataset in training_datasets(evidence)
		lib.filled(dataset.digest)
		placeholder(dataset.digest)
	]
	count(notes) > 0
} else := ""
