package gatekeeper.report_test

import data.gatekeeper.report
import data.gatekeeper.testdata as td

pack(model) := result if {
	result := report.model with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_class_and_thresholds_of_the_model if {
	result := pack(td.model("high"))
	result.risk_class == "high"
	result.environment == "production"
	result.enforcement == "deny"
	result.requirements == td.matrix.risk_classes.high
	result.registered.risk_class == "high"
	"fairness.demographic_parity_ratio" in result.requirement_ids.fairness
	"documentation.model_card_section" in result.requirement_ids.documentation
	"classification.unclassified" in result.requirement_ids.classification
}

test_environment_overrides_apply if {
	matrix := object.union(td.matrix, {"overrides": {"staging": {"high": {"fairness": {"min_group_size": 7}}}}})
	result := report.model with input as td.input_in("staging", [td.model("high")]) with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	result.environment == "staging"
	result.requirements.fairness.min_group_size == 7
}

test_valid_signoffs_name_signer_role_and_key if {
	views := pack(td.model("high")).signoffs
	count(views) == 3
	some view in views
	view.role == "validator"
	view.signer == td.alice.name
	view.keyid == td.alice.keyid
	view.key_owners == [td.alice.name]
	view.signature_valid
	view.rejections == []
}

test_tampered_signoff_is_not_verified if {
	bad := object.union(td.signoff("validator", td.alice), {
		"signature_valid": false, "keyid": null,
		"error": "signature does not verify against a trusted key (key ids: x)",
	})
	views := pack(object.union(td.model("high"), {"signoffs": [bad]})).signoffs
	views[0].signature_valid == false
	views[0].key_owners == []
	startswith(views[0].rejections[0], "signature not valid")
}

test_waivers_with_state if {
	views := pack(object.union(td.model("high"), {"waivers": [td.waiver("pii.open_findings")]})).waivers
	views[0].state == "active"
	views[0].requirement == "pii.open_findings"
	views[0].rejections == []
}

test_no_regulation_map if {
	result := report.model with input as td.input_of([td.model("high")]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
		with data.gatekeeper.regulations as {}
	result.regulations == null
}

act_references := [{"id": "Art. 1", "title": "Data"}, {"id": "Art. 2", "title": "Logs"}]

act := {"name": "The Act", "version": "2024", "references": act_references}

regulations := {
	"texts": {"act": act},
	"families": {"fairness": {"act": ["Art. 1"]}},
	"requirements": {"pii.open_findings": {"unmapped": "covered elsewhere"}},
}

test_regulation_coverage_of_the_model if {
	result := report.model with input as td.input_of([td.model("high")]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
		with data.gatekeeper.regulations as regulations
	fairness := result.regulations.requirements["fairness.demographic_parity_ratio"]
	[r.label | some r in fairness.references] == ["The Act Art. 1"]
	result.regulations.requirements["pii.open_findings"].unmapped == "covered elsewhere"
	result.regulations.requirements["lineage.run_id"].references == []
	result.regulations.texts.act.unserved == [{"id": "Art. 2", "title": "Logs"}]
	result.regulations.texts.act.version == "2024"
}
