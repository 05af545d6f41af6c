# Drift: a measured data-drift result (Evidently) shows few enough drifted columns.
#
# A bundle without a measured result is judged on its declared drift monitoring
# (monitoring.required) unless the class sets `required: true` here; older bundles keep
# the verdict they had. A bundle that carries a result is judged on it. How old the
# result may be is the general age limit of time-stamped evidence,
# max_evidence_age_days.drift (staleness.rego, evidence.stale), not a setting here.
package gatekeeper.requirements.drift

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"drift"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"drift.missing", "drift.drift_share"}

# METADATA
# description: the class requires a measured drift result and the evidence has none
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.drift.required == true
	not measured(ctx.evidence)
	message := "the evidence has no measured drift result (drift.drift_share, from `gatekeeper evidence drift`)"
	v := lib.violation(ctx, "drift.missing", message, null, null)
}

# METADATA
# description: a larger share of the columns drifted than the class allows
violations contains v if {
	some ctx in lib.assessed
	maximum := ctx.requirements.drift.drift_share_max
	result := lib.as_object(ctx.evidence.drift)
	share := result.drift_share
	is_number(share)
	share > maximum
	message := sprintf("drift share %s is above %s%s", [
		lib.number_text(share), lib.number_text(maximum),
		columns_text(result),
	])
	v := lib.violation(ctx, "drift.drift_share", message, share, maximum)
}

measured(evidence) if is_number(object.get(evidence, ["drift", "drift_share"], null))

# METADATA
# description: the drifted columns named after the message, with how many of all (empty when none are named)
columns_text(result) := sprintf(": drifted columns %s%s", [concat(", ", names), of_text(result, names)]) if {
	names := [lib.text(name) | some name in lib.as_array(object.get(result, "drifted_columns", []))]
	count(names) > 0
} else := ""

of_text(result, names) := sprintf(" (%d of %s)", [count(names), lib.number_text(result.columns)]) if {
	is_number(object.get(result, "columns", null))
} else := ""
