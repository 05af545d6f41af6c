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
