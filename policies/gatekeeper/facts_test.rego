package gatekeeper_test

import data.gatekeeper
import data.gatekeeper.testdata as td

test_facts_of_a_policy if {
	facts := gatekeeper.facts with gatekeeper.matrix as td.matrix
	facts.environments == {"production": "deny", "staging": "warn", "development": "dryrun"}
	facts.risk_classes == ["minimal", "limited", "high", "prohibited"]
	facts.never_waivable_prefixes == ["classification.", "classification.prohibited"]
	facts.approver_roles == ["compliance"]
	facts.signers == {"signers": gatekeeper.signers.signers}
	facts.serving == gatekeeper.serving
}

test_facts_carry_the_serving_table_as_written if {
	table := {"kinds": [{"group": "example.com", "kind": "Server"}]}
	gatekeeper.facts.serving == table with gatekeeper.serving as table
}

test_mistyped_enforcement_is_deny_in_facts_and_decision if {
	environments := {"production": {"enforcement": "Deny"}, "staging": {"enforcement": "warning"}, "qa": "warn"}
	matrix := object.union(object.remove(td.matrix, ["environments"]), {"environments": environments})
	got := gatekeeper.facts with gatekeeper.matrix as matrix
	got.environments == {"production": "deny", "staging": "deny", "qa": "deny"}
	every environment in object.keys(environments) {
		answer := gatekeeper.decision with gatekeeper.matrix as matrix
			with input as {"environment": environment, "models": []}
		answer.enforcement == got.environments[environment]
	}
}

test_facts_follow_the_waiver_settings if {
	waivers := {"approver_roles": ["risk", "compliance", 3], "never_waivable_prefixes": ["pii.", false]}
	got := gatekeeper.facts with gatekeeper.matrix as object.union(td.matrix, {"waivers": waivers})
	got.approver_roles == ["compliance", "risk"]
	got.never_waivable_prefixes == ["classification.prohibited", "pii."]
}

test_facts_without_matrix_or_signers if {
	facts := gatekeeper.facts with gatekeeper.matrix as "broken" with gatekeeper.signers as ["broken"]
	got := object.remove(facts, ["serving"])
	got == {
		"environments": {},
		"risk_classes": ["minimal", "limited", "high", "prohibited"],
		"never_waivable_prefixes": ["classification.prohibited"],
		"approver_roles": [],
		"signers": {"signers": []},
	}
}
