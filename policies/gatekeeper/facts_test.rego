package gatekeeper_test

import data.gatekeeper

test_facts_of_the_default_policy if {
	gatekeeper.facts.environments == {"production": "deny", "staging": "warn", "development": "dryrun"}
	gatekeeper.facts.risk_classes == ["minimal", "limited", "high", "prohibited"]
	gatekeeper.facts.never_waivable_prefixes == ["classification.", "classification.prohibited", "evidence.", "signoff."]
	gatekeeper.facts.approver_roles == ["compliance"]
	gatekeeper.facts.signoff_roles == {"default": {"reviews_all_but": ["drift"], "max_validity_days": 730}}
	gatekeeper.facts.signers == {"signers": gatekeeper.signers.signers}
	gatekeeper.facts.serving == gatekeeper.serving
}

test_facts_carry_the_serving_table_as_written if {
	table := {"kinds": [{"group": "example.com", "kind": "Server"}]}
	gatekeeper.facts.serving == table with gatekeeper.serving as table
}

test_mistyped_enforcement_is_deny_in_facts_and_decision if {
	environments := {"production": {"enforcement": "Deny"}, "staging": {"enforcement": "warning"}, "qa": "warn"}
	matrix := object.union(object.remove(gatekeeper.matrix, ["environments"]), {"environments": environments})
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
	got := gatekeeper.facts with gatekeeper.matrix.waivers as waivers
	got.approver_roles == ["compliance", "risk"]
	got.never_waivable_prefixes == ["classification.", "classification.prohibited", "evidence.", "pii.", "signoff."]
}

test_facts_without_matrix_or_signers if {
	facts := gatekeeper.facts with gatekeeper.matrix as "broken" with gatekeeper.signers as ["broken"]
	got := object.remove(facts, ["serving"])
	got == {
		"environments": {},
		"risk_classes": ["minimal", "limited", "high", "prohibited"],
		"never_waivable_prefixes": ["classification.", "classification.prohibited", "evidence.", "signoff."],
		"approver_roles": [],
		"signers": {"signers": []},
		"signoff_roles": {},
	}
}
