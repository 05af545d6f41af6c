# Data quality: a Great Expectations validation of the data passed enough of its suite.
package gatekeeper.requirements.data_quality

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"data_quality"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"data_quality.missing", "data_quality.success_percent"}

# METADATA
# description: the class requires a data-quality result and the evidence has none
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.data_quality)
	not is_number(object.get(ctx.evidence, ["data_quality", "success_percent"], null))
	message := concat(" ", [
		"the evidence has no data-quality result",
		"(data_quality.success_percent, from `gatekeeper evidence data-quality`)",
	])
	v := lib.violation(ctx, "data_quality.missing", message, null, null)
}

# METADATA
# description: the suite passed a smaller share of its expectations than the class allows
violations contains v if {
	some ctx in lib.assessed
	minimum := ctx.requirements.data_quality.min_success_percent
	result := lib.as_object(ctx.evidence.data_quality)
	percent := result.success_percent
	is_number(percent)
	percent < minimum
	message := sprintf("%s passed %s%% of %s expectations, below %s%%%s", [
		suite_text(result), lib.number_text(percent),
		lib.number_text(object.get(result, "evaluated_expectations", "its")),
		lib.number_text(minimum), failed_text(result),
	])
	v := lib.violation(ctx, "data_quality.success_percent", message, percent, minimum)
}

suite_text(result) := sprintf("the expectation suite '%s'", [result.suite]) if {
	lib.filled(object.get(result, "suite", null))
} else := "the expectation suite"

# METADATA
# description: the failed expectations named after the message (empty when none are named)
failed_text(result) := sprintf("; failed: %s", [concat(", ", names)]) if {
	names := [lib.text(name) | some name in lib.as_array(object.get(result, "failed", []))]
	count(names) > 0
} else := ""
