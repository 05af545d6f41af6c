package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_environment_names if {
	lib.environment_names == {"production", "staging", "development"} with data.gatekeeper.matrix as td.matrix
	lib.environment_names == set() with data.gatekeeper.matrix as {}
}

test_enforcement_per_environment if {
	every environment, action in {"production": "deny", "staging": "warn", "development": "dryrun"} {
		lib.enforcement == action with input as {"environment": environment} with data.gatekeeper.matrix as td.matrix
		lib.requirements_environment == environment with input as {"environment": environment}
			with data.gatekeeper.matrix as td.matrix
	}
}

test_unknown_environment_is_production if {
	every doc in [{"environment": "qa"}, {}, {"environment": 7}, []] {
		lib.enforcement == "deny" with input as doc with data.gatekeeper.matrix as td.matrix
		lib.requirements_environment == "production" with input as doc with data.gatekeeper.matrix as td.matrix
		not lib.environment_known with input as doc with data.gatekeeper.matrix as td.matrix
	}
}

test_unknown_enforcement_word_means_deny if {
	lib.enforcement_of("staging") == "deny" with data.gatekeeper.matrix as {"environments": {"staging": "warn"}}
	every word in ["log", "Deny", "Warn", " warn", "DRYRUN", 1, null] {
		matrix := object.union(td.matrix, {"environments": {"staging": {"enforcement": word}}})
		lib.enforcement == "deny" with input as {"environment": "staging"} with data.gatekeeper.matrix as matrix
		lib.enforcement_of("staging") == "deny" with data.gatekeeper.matrix as matrix
	}
}

test_enforcement_of_each_environment if {
	every environment, action in {"production": "deny", "staging": "warn", "development": "dryrun", "qa": "deny"} {
		lib.enforcement_of(environment) == action with data.gatekeeper.matrix as td.matrix
	}
}

test_approver_roles_are_strings if {
	matrix := object.union(td.matrix, {"waivers": {"approver_roles": ["compliance", 7, null]}})
	lib.approver_roles == {"compliance"} with data.gatekeeper.matrix as matrix
}

test_class_requirements_from_the_matrix if {
	requirements := {class: lib.requirements_of(class) |
		some class in {"prohibited", "high", "limited", "minimal", "unclassified"}
	} with input as {"environment": "production"} with data.gatekeeper.matrix as td.matrix
	requirements.unclassified == {}
	requirements.high.fairness.demographic_parity_ratio_min == 0.8
	requirements.limited.signoffs == {"roles": ["owner"], "min_distinct_signers": 1}
	requirements.minimal == {
		"model_card": {"sections": ["intended_use"]}, "lineage": {"run_id": true},
		"expiry_warning_days": 14,
	}
	requirements.prohibited == {"admitted": false}
}

test_overrides_are_deep_merged_per_environment if {
	matrix := object.union(td.matrix, {"overrides": {
		"development": {"high": {"fairness": {"min_group_size": 30}, "signoffs": null}},
		"production": {"minimal": {"monitoring": {"required": true}}},
	}})
	development_high := lib.requirements_of("high") with input as {"environment": "development"}
		with data.gatekeeper.matrix as matrix
	development_high.fairness == {
		"demographic_parity_ratio_min": 0.8, "demographic_parity_difference_max": 0.1,
		"equalized_odds_difference_max": 0.1, "min_group_size": 30, "favourable_outcome_required": true,
	}
	development_high.signoffs == null
	development_minimal := lib.requirements_of("minimal") with input as {"environment": "development"}
		with data.gatekeeper.matrix as matrix
	development_minimal == td.matrix.risk_classes.minimal

	# an unknown environment gets the production overrides
	unknown_minimal := lib.requirements_of("minimal") with input as {"environment": "qa"}
		with data.gatekeeper.matrix as matrix
	unknown_minimal.monitoring == {"required": true}
}

test_requirements_of_one_class if {
	lib.requirements_of("high") == td.matrix.risk_classes.high with input as {"environment": "production"}
		with data.gatekeeper.matrix as td.matrix
	lib.requirements_of("unclassified") == {}
	lib.requirements_of(null) == {}
	matrix := object.union(td.matrix, {"overrides": {"staging": {"minimal": {"lineage": null}}}})
	minimal := lib.requirements_of("minimal") with input as {"environment": "staging"}
		with data.gatekeeper.matrix as matrix
	minimal == {"model_card": {"sections": ["intended_use"]}, "lineage": null, "expiry_warning_days": 14}
}

test_no_matrix_means_no_requirements_and_deny if {
	lib.requirements_of("high") == {} with data.gatekeeper.matrix as "broken" with input as td.input_for("high")
	lib.enforcement == "deny" with data.gatekeeper.matrix as "broken" with input as {"environment": "development"}
}

test_waiver_settings if {
	lib.approver_roles == {"compliance"} with data.gatekeeper.matrix as td.matrix
	prefixes := lib.never_waivable_prefixes with data.gatekeeper.matrix as td.matrix
	prefixes == {"classification.", "classification.prohibited", "evidence.", "signoff."}
	lib.waivable("fairness.demographic_parity_ratio") with data.gatekeeper.matrix as td.matrix
	not lib.waivable("classification.unclassified") with data.gatekeeper.matrix as td.matrix
}

test_trust_requirements_never_waivable_whatever_the_matrix_says if {
	matrix := object.union(td.matrix, {"waivers": {"never_waivable_prefixes": [1, "pii."]}})
	not lib.waivable("classification.prohibited") with data.gatekeeper.matrix as matrix
	not lib.waivable("pii.open_findings") with data.gatekeeper.matrix as matrix
	every requirement in ["classification.unclassified", "evidence.stale", "signoff.role", "signoff.distinct_signers"] {
		not lib.waivable(requirement) with data.gatekeeper.matrix as matrix
	}
}

test_an_environment_label_change_is_enforced_everywhere if {
	every environment in ["production", "staging", "development", "qa"] {
		lib.enforcement == "deny" with input as {"environment": environment, "namespace_label": {"key": "k"}}
			with data.gatekeeper.matrix as td.matrix
	}
}

test_no_label_change_keeps_the_environments_enforcement if {
	lib.enforcement == "warn" with input as {"environment": "staging", "namespace_label": null}
		with data.gatekeeper.matrix as td.matrix
}
