package gatekeeper.testdata_test

import data.gatekeeper.testdata as td

test_compliant_models_are_admitted if {
	every class in ["high", "limited", "minimal"] {
		data.gatekeeper.decision.violations == [] with input as td.input_for(class)
			with data.gatekeeper.matrix as td.matrix
			with data.gatekeeper.lib.register_entry as td.registered
	}
}

test_unclassified_evidence_has_no_risk_class if {
	not td.evidence("unclassified").risk_class
	td.evidence("high").risk_class == "high"
}

test_signers_are_read_from_data if {
	td.alice.name == "alice@example.com"
	td.bob.name == "bob@example.com"
	td.alice.keyid != ""
}

test_model_without_removes_paths if {
	not td.model_without("high", ["evidence/model_card"]).evidence.model_card
}

test_expect if {
	td.expect("high", {"high"}, {"x"}) == {"x"}
	td.expect("minimal", {"high"}, {"x"}) == set()
}
