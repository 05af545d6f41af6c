package gatekeeper.requirements.performance_test

import data.gatekeeper.requirements.performance
import data.gatekeeper.testdata as td

# the matrix with metric bounds for high-risk models
bounded := object.union(td.matrix, {"risk_classes": {"high": {"performance": {
	"auc": {"min": 0.70},
	"latency_p99_ms": {"max": 250},
	"ks": {"target": 0.5},
}}}})

found(model, matrix) := ids if {
	ids := td.ids(performance.violations) with input as td.input_of([model])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

metrics(auc, latency) := {"evidence": {"performance": {"metrics": {"auc": auc, "latency_p99_ms": latency}}}}

test_metrics_required_where_the_class_has_a_performance_entry if {
	every class in td.classes {
		every model in [
			td.model_without(class, ["evidence/performance"]),
			td.model_with(class, {"evidence": {"performance": {"metrics": []}}}),
		] {
			ids := td.ids(performance.violations) with input as td.input_of([model])
				with data.gatekeeper.matrix as td.matrix
				with data.gatekeeper.lib.register_entry as td.registered
			ids == td.expect(class, {"high"}, {"performance.metric"})
		}
		performance.violations == set() with input as td.input_for(class) with data.gatekeeper.matrix as td.matrix
			with data.gatekeeper.lib.register_entry as td.registered
	}
}

test_no_metrics_is_one_violation if {
	doc := td.input_of([td.model_without("high", ["evidence/performance"])])
	violations := performance.violations with input as doc with data.gatekeeper.matrix as bounded
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {"the evidence reports no performance metrics (performance.metrics)"}
}

test_bounds_at_every_class if {
	every class in td.classes {
		found(td.model_with(class, metrics(0.70, 250)), bounded) == set()
		found(td.model_with(class, metrics(0.6999, 250)), bounded) == td.expect(class, {"high"}, {"performance.metric"})
		found(td.model_with(class, metrics(0.9, 250.5)), bounded) == td.expect(class, {"high"}, {"performance.metric"})
		no_metrics := td.model_without(class, ["evidence/performance"])
		found(no_metrics, bounded) == td.expect(class, {"high"}, {"performance.metric"})
	}
}

test_messages if {
	violations := performance.violations with input as td.input_of([td.model_with("high", metrics(0.6512, null))])
		with data.gatekeeper.matrix as bounded
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.message, v.observed, v.threshold] | some v in violations} == {
		["metric 'auc' is 0.6512, below 0.70", 0.6512, 0.70],
		["metric 'latency_p99_ms' is missing (required at most 250)", null, 250],
	}
}

test_missing_metric_among_others if {
	doc := td.input_of([td.model_with("high", {"evidence": {"performance": {"metrics": {"auc": null, "ks": 0.4}}}})])
	violations := performance.violations with input as doc with data.gatekeeper.matrix as bounded
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {
		"metric 'auc' is missing (required at least 0.70)",
		"metric 'latency_p99_ms' is missing (required at most 250)",
	}
}
