package gatekeeper_test

import data.gatekeeper
import data.gatekeeper.testdata as td

decide(doc) := result if {
	result := gatekeeper.decision with input as doc with gatekeeper.matrix as td.matrix
		with gatekeeper.lib.register_entry as td.registered
}

# a high-risk model failing two requirements: a fairness threshold and monitoring
failing := td.model_with("high", {"evidence": {
	"fairness": {"sex": {"demographic_parity_ratio": 0.62}},
	"monitoring": {"drift": "disabled"},
}})

with_waivers(model, waivers) := object.union(model, {"waivers": waivers})

test_compliant_models_are_admitted_everywhere if {
	every environment in ["production", "staging", "development", "qa"] {
		every class in ["high", "limited", "minimal"] {
			decision := decide(td.input_in(environment, [td.model(class)]))
			decision.allowed
			decision.violations == []
			decision.warnings == []
		}
	}
}

test_decision_document if {
	decision := decide(td.input_for("high"))
	decision == {
		"object": td.input_for("high").object,
		"environment": "production",
		"operation": "CREATE",
		"enforcement": "deny",
		"allowed": true,
		"models": [{"ref": "models:/credit-scoring/3", "name": "credit-scoring", "version": "3", "risk_class": "high"}],
		"checks": [{"model": "credit-scoring", "version": "3", "families": [
			"artifact", "classification", "data_quality", "documentation", "drift", "evidence",
			"explainability", "fairness", "lineage", "monitoring", "performance", "pii", "signoff",
		]}],
		"violations": [],
		"waived": [],
		"warnings": [],
		"expiries": [
			expiry("signoff", "compliance", "signoff.role"),
			expiry("signoff", "validator", "signoff.role"),
			stale_at("pii_scan", "pii_scan.scanned_at", "2027-10-01T00:00:00Z"),
			stale_at("fairness.age_band", "fairness.age_band.evaluated_at", "2027-11-20T00:00:00Z"),
			stale_at("fairness.sex", "fairness.sex.evaluated_at", "2027-11-20T00:00:00Z"),
		],
	}
}

stale_at(name, source, at) := {
	"kind": "evidence", "model": "credit-scoring", "version": "3", "name": name, "requirement": "evidence.stale",
	"source": source, "expires_at": at,
}

expiry(kind, name, requirement) := {
	"kind": kind, "model": "credit-scoring", "version": "3", "name": name, "requirement": requirement,
	"source": sprintf("signoffs/%s.dsse.json", [name]), "expires_at": td.later,
}

test_defined_for_any_input if {
	decide({}).allowed
	decide({}).enforcement == "deny"
	decide({"models": [null]}).violations[0].requirement == "evidence.missing"
	every doc in [{}, [], "x", {"models": []}, {"models": [null]}, {"environment": "staging"}] {
		decision := decide(doc)
		object.keys(decision) == {
			"object", "environment", "operation", "enforcement", "allowed",
			"models", "violations", "waived", "warnings", "expiries", "checks",
		}
	}
}

test_enforcement_per_environment if {
	every environment, expected in {
		"production": ["deny", false],
		"staging": ["warn", true],
		"development": ["dryrun", true],
		"qa": ["deny", false],
	} {
		decision := decide(td.input_in(environment, [failing]))
		[decision.enforcement, decision.allowed] == expected
		[v.requirement | some v in decision.violations] == [
			"fairness.demographic_parity_ratio",
			"monitoring.required",
		]
	}
}

test_warn_lists_violations_as_warnings if {
	decide(td.input_in("staging", [failing])).warnings == [
		"[fairness.demographic_parity_ratio] credit-scoring@3: demographic parity ratio for 'sex' is 0.62, below 0.80",
		"[monitoring.required] credit-scoring@3: drift monitoring is disabled, not enabled (monitoring.drift)",
	]
	decide(td.input_in("development", [failing])).warnings == []
	decide(td.input_in("production", [failing])).warnings == []
}

test_each_violation_carries_its_line if {
	every environment in ["production", "staging", "development"] {
		lines := [v.line | some v in decide(td.input_in(environment, [failing])).violations]
		lines == decide(td.input_in("staging", [failing])).warnings
	}
}

test_a_line_about_no_model_names_none if {
	no_model := {"requirement": "namespace.environment_label", "model": "", "version": ""}
	gatekeeper.line(no_model, "m") == "[namespace.environment_label] m"
	a_model := {"requirement": "fairness.threshold", "model": "a", "version": "3"}
	gatekeeper.line(a_model, "m") == "[fairness.threshold] a@3: m"
}

test_every_class_in_production if {
	every class in td.classes {
		decision := decide(td.input_for(class))
		decision.allowed == object.get({"high": true, "limited": true, "minimal": true}, class, false)
		decision.models[0].risk_class == class
	}
}

test_prohibited_or_unclassified_model_reports_nothing_else if {
	every class in ["prohibited", "unclassified"] {
		model := td.model_without(class, ["evidence/model_card", "evidence/lineage", "evidence/fairness"])
		[v.requirement | some v in decide(td.input_of([model])).violations] == [concat(".", ["classification", class])]
	}
}

test_evidence_error_reports_only_evidence if {
	model := object.union(td.model("high"), {
		"evidence_error": {"kind": "missing", "message": "no evidence at evidence/credit-scoring/3"},
		"evidence": null,
		"declared_risk_class": "bogus",
	})
	decision := decide(td.input_of([model]))
	decision.models == [{"ref": "models:/credit-scoring/3", "name": "credit-scoring", "version": "3", "risk_class": null}]
	decision.checks == [{"model": "credit-scoring", "version": "3", "families": ["classification", "evidence"]}]
	[[v.requirement, v.message] | some v in decision.violations] == [[
		"evidence.missing",
		"no evidence at evidence/credit-scoring/3",
	]]
	not decision.allowed
}

test_reference_errors_deny_without_models if {
	doc := object.union(td.input_of([]), {"reference_errors": [{"message": "no model annotation"}]})
	decision := decide(doc)
	not decision.allowed
	decision.models == []
	[[v.requirement, v.model, v.version] | some v in decision.violations] == [["evidence.model_reference", "", ""]]
}

test_violations_sorted_by_model_version_requirement_message if {
	renamed := {"name": "aaa-model", "ref": "models:/aaa-model/3", "evidence": {"model": "aaa-model"}}
	second := object.union(failing, renamed)
	doc := td.input_of([failing, second, td.model_with("high", {"version": "10"})])
	sortable := [[v.model, v.version, v.requirement] | some v in decide(doc).violations]
	sortable == sort(sortable)
	sortable[0] == ["aaa-model", "3", "fairness.demographic_parity_ratio"]
	[m.name | some m in decide(doc).models] == ["credit-scoring", "aaa-model", "credit-scoring"]
}

test_waiver_turns_violation_into_warning if {
	model := with_waivers(failing, [td.waiver("monitoring.required")])
	every environment in ["production", "staging", "development"] {
		decision := decide(td.input_in(environment, [model]))
		[v.requirement | some v in decision.violations] == ["fairness.demographic_parity_ratio"]
		[[v.requirement, v.waiver, v.waiver_expires_at, v.waiver_reason] | some v in decision.waived] == [[
			"monitoring.required", "waivers/monitoring.required.dsse.json",
			td.later, "mitigation under way",
		]]
		concat("", [
			"[monitoring.required] credit-scoring@3: waived by waivers/monitoring.required.dsse.json ",
			"until 2027-03-30T00:00:00Z: drift monitoring is disabled, not enabled (monitoring.drift)",
		]) in decision.warnings
	}
}

test_all_violations_waived_admits if {
	model := with_waivers(failing, [td.waiver("monitoring.required"), td.waiver("fairness.demographic_parity_ratio")])
	decision := decide(td.input_of([model]))
	decision.allowed
	decision.violations == []
	count(decision.waived) == 2
	count(decision.warnings) == 2
}

test_expired_waiver_is_ignored_with_a_warning if {
	operation := {"op": "replace", "path": "/predicate/expires_at", "value": td.earlier}
	expired := json.patch(td.waiver("monitoring.required"), [operation])
	decision := decide(td.input_of([with_waivers(failing, [expired])]))
	not decision.allowed
	decision.waived == []
	decision.warnings == [concat("", [
		"[monitoring.required] credit-scoring@3: waiver at waivers/monitoring.required.dsse.json ",
		"expired on 2026-01-01T00:00:00Z",
	])]
}

test_classification_cannot_be_waived if {
	model := with_waivers(td.model("prohibited"), [td.waiver("classification.prohibited")])
	decision := decide(td.input_of([model]))
	not decision.allowed
	decision.waived == []
	decision.violations[0].requirement == "classification.prohibited"
}

test_waiver_by_non_approver_is_ignored_with_a_warning if {
	model := with_waivers(failing, [td.waiver_by("monitoring.required", td.alice)])
	decision := decide(td.input_of([model]))
	count(decision.violations) == 2
	decision.waived == []
	decision.warnings == [concat("", [
		"[monitoring.required] credit-scoring@3: waiver at waivers/monitoring.required.dsse.json does not apply: ",
		"alice@example.com may not approve waivers (approver roles: compliance)",
	])]
}

test_one_waiver_cannot_replace_the_sign_offs if {
	unsigned := object.union(td.model("high"), {"signoffs": [], "waivers": [td.waiver("signoff.role")]})
	decision := decide(td.input_of([unsigned]))
	not decision.allowed
	decision.waived == []
	[v.requirement | some v in decision.violations] == ["signoff.role", "signoff.role"]
	decision.warnings == [concat("", [
		"[signoff.role] credit-scoring@3: waiver at waivers/signoff.role.dsse.json does not apply: ",
		"signoff.role can never be waived",
	])]
}

test_a_waiver_for_another_artifact_does_not_apply if {
	zero := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	waiver := json.patch(td.waiver("monitoring.required"), [
		{"op": "replace", "path": "/subject_digests", "value": [zero]},
		{"op": "replace", "path": "/subjects", "value": [{"name": "models:/credit-scoring/3", "digest": zero}]},
	])
	decision := decide(td.input_of([with_waivers(failing, [waiver])]))
	count(decision.violations) == 2
	decision.waived == []
	decision.warnings == [sprintf(
		"[monitoring.required] credit-scoring@3: waiver at waivers/monitoring.required.dsse.json does not apply: %s",
		[sprintf("subject digest does not match artifact digest %s", [td.digest])],
	)]
}

test_environments if {
	environments := gatekeeper.environments with gatekeeper.matrix as td.matrix
	environments == ["development", "production", "staging"]
}
