# Monitoring: drift is watched for the model, either declared (monitoring.drift: enabled)
# or shown by a measured drift result (drift.drift_share, judged by the drift family).
package gatekeeper.requirements.monitoring

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"monitoring"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"monitoring.required"}

# METADATA
# description: the class requires monitoring; drift monitoring is neither enabled nor measured
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.monitoring.required == true
	drift := object.get(ctx.evidence, ["monitoring", "drift"], null)
	drift != "enabled"
	not is_number(object.get(ctx.evidence, ["drift", "drift_share"], null))
	message := sprintf("drift monitoring is %s, not enabled (monitoring.drift)", [state(drift)])
	v := lib.violation(ctx, "monitoring.required", message, drift, "enabled")
}

state(null) := "not declared"

state(drift) := sprintf("%v", [drift]) if drift != null
