package gatekeeper.requirements.drift_test

import data.gatekeeper.requirements.drift
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(drift.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

measured(share) := {"evidence": {"drift": object.union(td.drift_result, {"drift_share": share})}}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
		found(td.model_with(class, {"evidence": {"drift": td.drift_result}})) == set()
	}
}

test_no_result_is_judged_on_declared_monitoring_by_default if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/drift"])) == set()
		found(json.remove(td.model(class), ["evidence/monitoring"])) == set()
	}
}

test_result_required_when_the_matrix_says_so if {
	matrix := object.union(td.matrix, {"risk_classes": {"limited": {"drift": {"required": true}}}})
	without := td.input_of([td.model_without("limited", ["evidence/drift"])])
	td.ids(drift.violations) == {"drift.missing"} with input as without with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	measured_result := td.input_of([td.model_with("limited", {"evidence": {"drift": td.drift_result}})])
	td.ids(drift.violations) == set() with input as measured_result with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_share_thresholds_per_class if {
	found(td.model_with("high", measured(0.3))) == set()
	found(td.model_with("high", measured(0.31))) == {"drift.drift_share"}
	found(td.model_with("limited", measured(0.5))) == set()
	found(td.model_with("limited", measured(0.51))) == {"drift.drift_share"}
	found(td.model_with("minimal", measured(1))) == set()
}

test_message_names_the_drifted_columns if {
	shifted := {"evidence": {"drift": object.union(
		td.drift_result,
		{"drift_share": 0.75, "drifted_columns": ["age", "income", "debt"], "columns": 4},
	)}}
	violations := drift.violations with input as td.input_of([td.model_with("high", shifted)])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	message := "drift share 0.75 is above 0.3: drifted columns age, income, debt (3 of 4)"
	{[v.message, v.observed, v.threshold] | some v in violations} == {[message, 0.75, 0.3]}
	bare := td.model_with("high", {"evidence": {"drift": {"drift_share": 0.5}}})
	messages := {v.message | some v in drift.violations} with input as td.input_of([bare])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	messages == {"drift share 0.50 is above 0.3"}
}

test_age_is_not_judged_here if {
	# how old a result may be is max_evidence_age_days.drift (staleness_test.rego)
	old := {"evidence": {"drift": object.union(td.drift_result, {"evaluated_at": "2020-01-01T00:00:00Z"})}}
	every class in td.classes {
		found(td.model_with(class, old)) == set()
	}
}
