package gatekeeper.requirements.pii_test

import data.gatekeeper.requirements.pii
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(pii.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

findings(n) := {"evidence": {"pii_scan": {"open_findings": n}}}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_scan_missing if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/pii_scan"])) == td.expect(class, {"high", "limited"}, {"pii.scan_missing"})
		found(td.model_with(class, findings("none"))) == td.expect(class, {"high", "limited"}, {"pii.scan_missing"})
	}
}

test_open_findings if {
	every class in td.classes {
		found(td.model_with(class, findings(0))) == set()
		found(td.model_with(class, findings(1))) == td.expect(class, {"high", "limited"}, {"pii.open_findings"})
	}
	violations := pii.violations with input as td.input_of([td.model_with("high", findings(2))])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.message, v.observed, v.threshold] | some v in violations} == {["the PII scan has 2 open findings, above 0", 2, 0]}
}

test_higher_limit_by_override if {
	override := {"staging": {"limited": {"pii": {"max_open_findings": 2}}}}
	matrix := object.union(td.matrix, {"overrides": override})
	td.ids(pii.violations) == set() with input as td.input_in("staging", [td.model_with("limited", findings(2))])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	three := td.input_in("staging", [td.model_with("limited", findings(3))])
	td.ids(pii.violations) == {"pii.open_findings"} with input as three
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_message_counts_entity_types if {
	entities := {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1, "IBAN_CODE": 0}
	scan := {"evidence": {"pii_scan": {"open_findings": 3, "entities": entities}}}
	violations := pii.violations with input as td.input_of([td.model_with("high", scan)])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {"the PII scan has 3 open findings, above 0 (EMAIL_ADDRESS 2, PHONE_NUMBER 1)"}
}
