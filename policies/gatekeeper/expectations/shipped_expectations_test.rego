# What the shipped policy (policies/gatekeeper/matrix/requirements.yaml as it is) decides
# for the test bundles. These tests, and only these, read the shipped matrix: when a
# compliance team changes a threshold on purpose, they are the ones to update, and
# `gatekeeper policy test` says so. Every other test pins its own matrix (td.matrix).
package gatekeeper.expectations_test

import data.gatekeeper.testdata as td

decide(doc) := decision if {
	decision := data.gatekeeper.decision with input as doc
}

# a high-risk model failing two requirements: a fairness threshold and monitoring
failing := td.model_with("high", {"evidence": {
	"fairness": {"sex": {"demographic_parity_ratio": 0.62}},
	"monitoring": {"drift": "disabled"},
}})

test_environments_and_their_enforcement if {
	data.gatekeeper.environments == ["development", "production", "staging"]
	data.gatekeeper.facts.environments == {"production": "deny", "staging": "warn", "development": "dryrun"}
	data.gatekeeper.facts.approver_roles == ["compliance"]
	never := ["classification.", "classification.prohibited", "evidence.", "signoff."]
	data.gatekeeper.facts.never_waivable_prefixes == never
}

# The shipped register classifies credit-scoring (the fixtures' model) as high.
test_compliant_bundles_are_admitted_everywhere if {
	every environment in ["production", "staging", "development"] {
		every class in ["high", "unclassified"] {
			decision := decide(td.input_in(environment, [td.model(class)]))
			decision.allowed
			decision.violations == []
			decision.warnings == []
			[m.risk_class | some m in decision.models] == ["high"]
		}
	}
}

test_a_bundle_below_the_registered_class_is_denied_in_production if {
	every class in ["limited", "minimal"] {
		decision := decide(td.input_for(class))
		not decision.allowed
		[v.requirement | some v in decision.violations] == ["classification.mismatch"]
	}
}

test_prohibited_and_unregistered_are_denied_in_production if {
	not decide(td.input_for("prohibited")).allowed
	unknown := td.model_with("high", {"name": "fraud-detector", "ref": "models:/fraud-detector/3"})
	decision := decide(td.input_of([unknown]))
	not decision.allowed
	[v.requirement | some v in decision.violations] == ["classification.unclassified"]
}

test_failing_high_model if {
	every environment, allowed in {"production": false, "staging": true, "development": true} {
		decision := decide(td.input_in(environment, [failing]))
		decision.allowed == allowed
		[v.requirement | some v in decision.violations] == [
			"fairness.demographic_parity_ratio",
			"monitoring.required",
		]
	}
}

# (at least these: a family added later is checked too)
test_families_checked_per_class if {
	every class, families in {
		"high": [
			"artifact", "classification", "data_quality", "documentation", "drift", "evidence",
			"explainability", "fairness", "lineage", "monitoring", "performance", "pii", "signoff",
		],
		"limited": [
			"artifact", "classification", "data_quality", "documentation", "drift", "evidence",
			"fairness", "lineage", "pii", "signoff",
		],
		"minimal": ["classification", "documentation", "evidence", "lineage"],
	} {
		checked := {family | some family in decide(td.input_for(class)).checks[0].families}
		{family | some family in families} - checked == set()
	}
}

test_credit_scoring_must_report_sex if {
	without_sex := td.model_without("high", ["evidence/fairness/sex"])
	decision := decide(td.input_of([without_sex]))
	[v.requirement | some v in decision.violations] == ["fairness.missing"]
}
