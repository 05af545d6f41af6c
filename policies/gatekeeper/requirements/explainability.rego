# Explainability: an explanation method and its report.
package gatekeeper.requirements.explainability

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"explainability"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"explainability.report", "explainability.report_format"}

# METADATA
# description: the class requires an explainability report and there is none
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.explainability.required == true
	explainability := lib.as_object(object.get(ctx.evidence, "explainability", {}))
	message := problem(explainability)
	v := lib.violation(ctx, "explainability.report", message, null, null)
}

# METADATA
# description: |
#   the report was read and is not SHAP-shaped (a non-empty map of feature -> importance
#   >= 0); Python says why in report_problem (docs/policy-input.md)
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.explainability.required == true
	explainability := lib.as_object(object.get(ctx.evidence, "explainability", {}))
	not problem(explainability)
	lib.filled(object.get(explainability, "report_problem", null))
	report := lib.text(explainability.report)
	why := explainability.report_problem
	message := sprintf("the explainability report %s is not a feature-importance report: %s", [report, why])
	v := lib.violation(ctx, "explainability.report_format", message, null, null)
}

problem(explainability) := "the evidence names no explainability method" if {
	not lib.filled(object.get(explainability, "method", null))
} else := sprintf("the explainability report %s was not found", [report]) if {
	object.get(explainability, "report_present", false) != true
	report := lib.text(object.get(explainability, "report", "(none named)"))
}
