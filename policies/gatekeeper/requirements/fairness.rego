# Fairness: for every sensitive attribute in the evidence, each metric the risk class
# sets a threshold for is present and within it.
package gatekeeper.requirements.fairness

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"fairness"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"fairness.missing", "fairness.metric_missing", "fairness.favourable_outcome"} | {
concat(".", ["fairness", metric]) |
	some metric, _ in metrics
}

# METADATA
# description: |
#   evidence metric -> its threshold key in the matrix, the bound, the requirement ID
#   reported when out of bounds, and how messages name it
metrics := {
	"demographic_parity_ratio": {
		"threshold": "demographic_parity_ratio_min",
		"bound": "min",
		"label": "demographic parity ratio",
	},
	"demographic_parity_difference": {
		"threshold": "demographic_parity_difference_max",
		"bound": "max",
		"label": "demographic parity difference",
	},
	"equalized_odds_difference": {
		"threshold": "equalized_odds_difference_max",
		"bound": "max",
		"label": "equalized odds difference",
	},
	"min_group_size": {"threshold": "min_group_size", "bound": "min", "label": "min group size"},
}

# METADATA
# description: fairness is required but the evidence has no results
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.fairness)
	count(attributes(ctx.evidence)) == 0
	message := "the evidence has no fairness results (one entry per sensitive attribute)"
	v := lib.violation(ctx, "fairness.missing", message, null, null)
}

# METADATA
# description: |
#   a sensitive attribute the matrix requires (for the class, or for this model under
#   models.<name>) has no results, while others do (no results at all is the rule above)
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.fairness)
	reported := object.keys(attributes(ctx.evidence))
	count(reported) > 0
	some attribute, source in required_attributes(ctx)
	not attribute in reported
	message := sprintf("the evidence has no fairness results for '%s', which the requirement matrix requires %s", [
		attribute,
		source,
	])
	v := lib.violation(ctx, "fairness.missing", message, attribute, null)
}

# METADATA
# description: one violation per attribute per required metric that is missing or out of bounds
violations contains v if {
	some ctx in lib.assessed
	required := ctx.requirements.fairness
	some attribute, results in attributes(ctx.evidence)
	scores := lib.as_object(results)
	some metric, spec in metrics
	threshold := required[spec.threshold]
	value := object.get(scores, metric, null)
	lib.misses_bound(value, spec.bound, threshold)
	[requirement, message] := problem(attribute, metric, spec, value, threshold)
	v := lib.violation(ctx, requirement, message, value, threshold)
}

# METADATA
# description: |
#   where the class asks for it, each attribute's results name the favourable outcome
#   their rates were measured on: parity of defaults instead of approvals can say the
#   opposite of the truth about a credit model
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.fairness.favourable_outcome_required == true
	some attribute, results in attributes(ctx.evidence)
	not lib.filled(object.get(lib.as_object(results), "favourable_outcome", null))
	message := sprintf(
		"fairness results for '%s' do not name the favourable outcome they were measured on (favourable_outcome)",
		[attribute],
	)
	v := lib.violation(ctx, "fairness.favourable_outcome", message, null, null)
}

# METADATA
# description: |
#   attribute -> why it is required: fairness.required_attributes of the class (after
#   the environment's overrides) and models.<name>.fairness.required_attributes
required_attributes(ctx) := object.union(
	{attribute: sprintf("for %s models", [ctx.risk_class]) |
		some attribute in lib.as_array(object.get(ctx.requirements.fairness, "required_attributes", []))
		is_string(attribute)
	},
	{attribute: sprintf("for %s", [ctx.name]) |
		some attribute in lib.as_array(object.get(lib.matrix, ["models", ctx.name, "fairness", "required_attributes"], []))
		is_string(attribute)
	},
)

attributes(evidence) := lib.as_object(object.get(evidence, "fairness", {}))

# METADATA
# description: the requirement ID and message for a value that misses the threshold (lib.misses_bound)
problem(attribute, metric, spec, value, threshold) := ["fairness.metric_missing", message] if {
	not is_number(value)
	limit := sprintf("%s %s", [bound_text[spec.bound], lib.number_text(threshold)])
	message := sprintf("%s for '%s' is missing (required %s)", [spec.label, attribute, limit])
} else := [concat(".", ["fairness", metric]), message] if {
	limit := sprintf("%s %s", [bound_word[spec.bound], lib.number_text(threshold)])
	message := sprintf("%s for '%s' is %s, %s", [spec.label, attribute, lib.number_text(value), limit])
}

bound_text := {"min": "at least", "max": "at most"}

bound_word := {"min": "below", "max": "above"}
