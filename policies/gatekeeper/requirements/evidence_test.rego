package gatekeeper.requirements.evidence_test

import data.gatekeeper.requirements.evidence
import data.gatekeeper.testdata as td

failed(class, problem) := object.union(td.model(class), {"evidence_error": problem, "evidence": null})

test_compliant_at_every_class if {
	every class in td.classes {
		evidence.violations == set() with input as td.input_for(class) with data.gatekeeper.matrix as td.matrix
	}
}

test_each_error_kind_at_every_class if {
	every class in td.classes {
		every kind in ["missing", "unreadable", "unavailable", "mismatch"] {
			violations := evidence.violations with input as td.input_of([failed(class, {"kind": kind, "message": "why"})])
				with data.gatekeeper.matrix as td.matrix
			{[v.requirement, v.model, v.version, v.message] | some v in violations} == {[
				concat(".", ["evidence", kind]),
				"credit-scoring", "3", "why",
			]}
		}
	}
}

test_unknown_kind_and_no_message if {
	violations := evidence.violations with input as td.input_of([failed("high", {"kind": "exploded"})])
		with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message] | some v in violations} == {["evidence.unavailable", "evidence error (exploded)"]}
}

test_error_without_kind_still_fails if {
	violations := evidence.violations with input as td.input_of([failed("high", {})])
		with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message] | some v in violations} == {["evidence.unavailable", "evidence error (unknown)"]}
}

test_error_that_is_not_an_object if {
	violations := evidence.violations with input as td.input_of([failed("high", "cannot parse")])
		with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message] | some v in violations} == {["evidence.unreadable", "cannot parse"]}
}

test_no_evidence_and_no_error_is_missing if {
	violations := evidence.violations with input as td.input_of([object.remove(td.model("high"), ["evidence"])])
		with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message] | some v in violations} == {[
		"evidence.missing",
		"no evidence bundle for models:/credit-scoring/3",
	]}
	entries := evidence.violations with input as td.input_of(["models:/x/1"]) with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message] | some v in entries} == {["evidence.missing", "no evidence bundle for the model entry"]}
}

test_reference_errors if {
	doc := object.union(td.input_of([]), {"reference_errors": [
		{"message": "InferenceService has no model-gatekeeper.io/model annotation"},
		"not a models:/ URI",
		{},
	]})
	violations := evidence.violations with input as doc with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.model, v.version, v.message] | some v in violations} == {
		["evidence.model_reference", "", "", "InferenceService has no model-gatekeeper.io/model annotation"],
		["evidence.model_reference", "", "", "not a models:/ URI"],
		["evidence.model_reference", "", "", "the workload does not name the model it serves"],
	}
}

test_no_reference_errors_field if {
	evidence.violations == set() with input as {"models": []} with data.gatekeeper.matrix as td.matrix
	evidence.violations == set() with input as [] with data.gatekeeper.matrix as td.matrix
}

dated(section, field, stamp) := td.model_with("high", {"evidence": {section: {field: stamp}}})

test_measured_time_in_the_future_is_unreadable if {
	every class in td.classes {
		every pair in [["pii_scan", "scanned_at"], ["data_quality", "evaluated_at"], ["drift", "evaluated_at"]] {
			[section, field] := pair
			model := object.union(dated(section, field, "2099-01-01T00:00:00Z"), {"evidence": {"risk_class": class}})
			violations := evidence.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
			{[v.requirement, v.message] | some v in violations} == {[
				"evidence.unreadable",
				sprintf("%s.%s 2099-01-01T00:00:00Z is later than now (%s) plus the allowed clock skew of 300 seconds: %s", [
					section, field, td.now,
					"a measurement cannot be dated in the future",
				]),
			]}
		}
	}
}

test_fairness_time_in_the_future if {
	model := td.model_with("high", {"evidence": {"fairness": {"sex": {"evaluated_at": "2026-11-22T09:00:00Z"}}}})
	violations := evidence.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.observed] | some v in violations} == {["evidence.unreadable", "2026-11-22T09:00:00Z"]}
}

test_clock_skew_is_allowed_and_is_policy_data if {
	# td.now is 08:00:00; five minutes ahead is within the default skew
	model := dated("pii_scan", "scanned_at", "2026-11-22T08:05:00Z")
	evidence.violations == set() with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	ids := td.ids(evidence.violations) with input as td.input_of([model])
		with data.gatekeeper.matrix.evidence.clock_skew_seconds as 60
	ids == {"evidence.unreadable"}
	evidence.violations == set() with input as td.input_of([dated("pii_scan", "scanned_at", "2026-11-22T08:06:00Z")])
		with data.gatekeeper.matrix.evidence.clock_skew_seconds as 600
}

test_unparsable_time_is_left_to_staleness if {
	yesterday := dated("drift", "evaluated_at", "yesterday")
	evidence.violations == set() with input as td.input_of([yesterday]) with data.gatekeeper.matrix as td.matrix
}
