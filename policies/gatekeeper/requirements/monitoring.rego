# Monitoring: drift monitoring is enabled for the model.
package gatekeeper.requirements.monitoring

import data.gatekeeper.lib

# METADATA
# description: the class requires monitoring and drift monitoring is not enabled
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.monitoring.required == true
	drift := object.get(ctx.evidence, ["monitoring", "drift"], null)
	drift != "enabled"
	message := sprintf("drift monitoring is %s, not enabled (monitoring.drift)", [state(drift)])
	v := lib.violation(ctx, "monitoring.required", message, drift, "enabled")
}

state(null) := "not declared"

state(drift) := sprintf("%v", [drift]) if drift != null
