# Performance: a class with a performance entry in the matrix must report evaluation
# metrics, each within the bounds the entry sets, e.g.
# performance: {auc: {min: 0.70}, latency_p99_ms: {max: 250}}
package gatekeeper.requirements.performance

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"performance"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"performance.metric"}

bound_words := {"min": "below", "max": "above"}

# METADATA
# description: the class has a performance entry and the evidence reports no metrics at all
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.performance)
	count(metrics_of(ctx.evidence)) == 0
	message := "the evidence reports no performance metrics (performance.metrics)"
	v := lib.violation(ctx, "performance.metric", message, null, null)
}

# METADATA
# description: one violation per (metric, bound) that is missing or out of bounds
violations contains v if {
	some ctx in lib.assessed
	metrics := metrics_of(ctx.evidence)
	count(metrics) > 0
	some metric, bounds in lib.as_object(object.get(ctx.requirements, "performance", {}))
	some bound, threshold in lib.as_object(bounds)
	bound_words[bound]
	value := object.get(metrics, metric, null)
	lib.misses_bound(value, bound, threshold)
	v := lib.violation(ctx, "performance.metric", problem(value, metric, bound, threshold), value, threshold)
}

metrics_of(evidence) := lib.as_object(object.get(evidence, ["performance", "metrics"], {}))

# the message for a value that misses the threshold (lib.misses_bound)
problem(value, metric, bound, threshold) := sprintf("metric '%s' is missing (required %s)", [metric, limit]) if {
	not is_number(value)
	limit := sprintf("%s %s", [requirement_words(bound), lib.number_text(threshold)])
} else := sprintf("metric '%s' is %s, %s", [metric, lib.number_text(value), limit]) if {
	limit := sprintf("%s %s", [bound_words[bound], lib.number_text(threshold)])
}

requirement_words("min") := "at least"

requirement_words("max") := "at most"
