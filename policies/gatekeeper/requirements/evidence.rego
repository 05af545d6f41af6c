# Evidence: the gate could name the model and read its evidence bundle.
package gatekeeper.requirements.evidence

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := set()

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"evidence.model_reference", "evidence.unavailable"} | {concat(".", ["evidence", kind]) |
	some kind in error_kinds
}

error_kinds := {"missing", "unreadable", "unavailable", "mismatch"}

# METADATA
# description: each reference error (the workload does not say which model it serves)
violations contains v if {
	some problem in lib.as_array(object.get(lib.as_object(input), "reference_errors", []))
	v := lib.violation({"name": "", "version": ""}, "evidence.model_reference", reference_message(problem), null, null)
}

# METADATA
# description: a model whose evidence could not be used
violations contains v if {
	some ctx in lib.models
	problem := ctx.evidence_error
	problem != null
	v := lib.violation(ctx, requirement(object.get(problem, "kind", null)), error_message(problem), null, null)
}

requirement(kind) := concat(".", ["evidence", kind]) if {
	kind in error_kinds
} else := "evidence.unavailable"

error_message(problem) := problem.message if {
	lib.filled(problem.message)
} else := sprintf("evidence error (%s)", [lib.text(object.get(problem, "kind", "unknown"))])

reference_message(problem) := problem.message if {
	lib.filled(problem.message)
} else := lib.text(problem) if {
	lib.filled(problem)
} else := "the workload does not name the model it serves"
