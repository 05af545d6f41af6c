package gatekeeper.requirements.data_quality_test

import data.gatekeeper.requirements.data_quality
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(data_quality.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

quality(percent) := {"evidence": {"data_quality": {"success_percent": percent}}}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_result_required_for_high_and_limited if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/data_quality"])) == td.expect(
			class, {"high", "limited"},
			{"data_quality.missing"},
		)
		found(td.model_with(class, quality("all"))) == td.expect(class, {"high", "limited"}, {"data_quality.missing"})
	}
}

test_thresholds_per_class if {
	found(td.model_with("high", quality(99))) == set()
	found(td.model_with("high", quality(98.9))) == {"data_quality.success_percent"}
	found(td.model_with("limited", quality(95))) == set()
	found(td.model_with("limited", quality(94.9))) == {"data_quality.success_percent"}
	found(td.model_with("minimal", quality(10))) == set()
}

test_message_names_the_failed_expectations if {
	failing := {"evidence": {"data_quality": {
		"suite": "loans", "success_percent": 87.5, "evaluated_expectations": 8,
		"failed": ["expect_column_values_to_not_be_null(income)"],
	}}}
	violations := data_quality.violations with input as td.input_of([td.model_with("high", failing)])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.message, v.observed, v.threshold] | some v in violations} == {[
		concat("", [
			"the expectation suite 'loans' passed 87.50% of 8 expectations, below 99%; ",
			"failed: expect_column_values_to_not_be_null(income)",
		]),
		87.5, 99,
	]}
}

test_message_without_suite_or_names if {
	bare := object.union(td.model_without("high", ["evidence/data_quality"]), quality(50))
	violations := data_quality.violations with input as td.input_of([bare]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {"the expectation suite passed 50% of its expectations, below 99%"}
}
