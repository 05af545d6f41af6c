package gatekeeper.requirements.fairness_test

import data.gatekeeper.requirements.fairness
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(fairness.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

# sex results of the test bundle with one metric changed
sex(metric, value) := {"evidence": {"fairness": {"sex": {metric: value}}}}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_demographic_parity_ratio if {
	every class in td.classes {
		found(td.model_with(class, sex("demographic_parity_ratio", 0.80))) == set()
		found(td.model_with(class, sex("demographic_parity_ratio", 0.7999))) == td.expect(
			class, {"high", "limited"},
			{"fairness.demographic_parity_ratio"},
		)
	}
}

test_demographic_parity_difference if {
	every class in td.classes {
		found(td.model_with(class, sex("demographic_parity_difference", 0.10))) == set()
		found(td.model_with(class, sex("demographic_parity_difference", 0.1001))) == td.expect(
			class, {"high"},
			{"fairness.demographic_parity_difference"},
		)
	}
}

test_equalized_odds_difference if {
	every class in td.classes {
		found(td.model_with(class, sex("equalized_odds_difference", 0.10))) == set()
		found(td.model_with(class, sex("equalized_odds_difference", 0.1001))) == td.expect(
			class, {"high"},
			{"fairness.equalized_odds_difference"},
		)
	}
}

test_min_group_size if {
	every class in td.classes {
		found(td.model_with(class, sex("min_group_size", 100))) == set()
		found(td.model_with(class, sex("min_group_size", 99))) == td.expect(
			class, {"high"},
			{"fairness.min_group_size"},
		)
	}
}

test_metric_missing if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/fairness/sex/equalized_odds_difference"])) == td.expect(
			class, {"high"},
			{"fairness.metric_missing"},
		)
		found(td.model_without(class, ["evidence/fairness/sex/demographic_parity_ratio"])) == td.expect(
			class, {"high", "limited"},
			{"fairness.metric_missing"},
		)
		found(td.model_with(class, sex("min_group_size", "many"))) == td.expect(
			class, {"high"},
			{"fairness.metric_missing"},
		)
	}
}

test_fairness_missing if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/fairness"])) == td.expect(class, {"high", "limited"}, {"fairness.missing"})
		found(td.model_with(class, {"evidence": {"fairness": []}})) == td.expect(
			class, {"high", "limited"},
			{"fairness.missing"},
		)
	}
}

test_attribute_without_results_lacks_every_metric if {
	model := td.model_with("high", {"evidence": {"fairness": {"region": null}}})
	violations := fairness.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.observed] | some v in violations} == {
		["fairness.metric_missing", null],
		["fairness.favourable_outcome", null],
	}
	count(violations) == 5
}

test_one_violation_per_attribute_and_metric if {
	model := td.model_with("high", {"evidence": {"fairness": {
		"sex": {"demographic_parity_ratio": 0.62, "min_group_size": 50},
		"age_band": {"demographic_parity_ratio": 0.7},
	}}})
	violations := fairness.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.observed, v.threshold] | some v in violations} == {
		["fairness.demographic_parity_ratio", 0.62, 0.8],
		["fairness.demographic_parity_ratio", 0.7, 0.8],
		["fairness.min_group_size", 50, 100],
	}
	count(violations) == 3
}

test_messages if {
	model := td.model_with("high", {"evidence": {"fairness": {"sex": {
		"demographic_parity_ratio": 0.62,
		"equalized_odds_difference": 0.125,
		"min_group_size": null,
	}}}})
	messages := {v.message | some v in fairness.violations} with input as td.input_of([model])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	messages == {
		"demographic parity ratio for 'sex' is 0.62, below 0.80",
		"equalized odds difference for 'sex' is 0.125, above 0.10",
		"min group size for 'sex' is missing (required at least 100)",
	}
}

test_threshold_override_for_one_environment if {
	override := {"development": {"high": {"fairness": {"min_group_size": 30}}}}
	matrix := object.union(td.matrix, {"overrides": override})
	model := td.model_with("high", sex("min_group_size", 50))
	td.ids(fairness.violations) == set() with input as td.input_in("development", [model])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	td.ids(fairness.violations) == {"fairness.min_group_size"} with input as td.input_in("staging", [model])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_family_dropped_by_override if {
	matrix := object.union(td.matrix, {"overrides": {"development": {"limited": {"fairness": null}}}})
	model := td.model_without("limited", ["evidence/fairness"])
	td.ids(fairness.violations) == set() with input as td.input_in("development", [model])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_favourable_outcome_required_for_high_and_limited if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/fairness/sex/favourable_outcome"])) == td.expect(
			class, {"high", "limited"},
			{"fairness.favourable_outcome"},
		)
		found(td.model_with(class, sex("favourable_outcome", " "))) == td.expect(
			class, {"high", "limited"},
			{"fairness.favourable_outcome"},
		)
	}
	model := td.model_without("high", ["evidence/fairness/age_band/favourable_outcome"])
	messages := {v.message | some v in fairness.violations} with input as td.input_of([model])
		with data.gatekeeper.matrix as td.matrix
	messages == {concat("", [
		"fairness results for 'age_band' do not name the favourable outcome ",
		"they were measured on (favourable_outcome)",
	])}
}

test_favourable_outcome_not_required_when_the_matrix_says_not if {
	override := {"production": {"high": {"fairness": {"favourable_outcome_required": false}}}}
	matrix := object.union(td.matrix, {"overrides": override})
	model := td.model_without("high", ["evidence/fairness/sex/favourable_outcome"])
	td.ids(fairness.violations) == set() with input as td.input_of([model]) with data.gatekeeper.matrix as matrix
}

without_sex := td.model_without("high", ["evidence/fairness/sex"])

# the test matrix with its per-model requirements replaced (a `with` on a key merges)
with_models(models) := object.union(object.remove(td.matrix, ["models"]), {"models": models})

test_required_attribute_of_the_model_is_missing if {
	violations := fairness.violations with input as td.input_of([without_sex])
		with data.gatekeeper.matrix as with_models({"credit-scoring": {"fairness": {"required_attributes": ["sex"]}}})
		with data.gatekeeper.lib.register_entry as td.registered
	{[v.requirement, v.message, v.observed] | some v in violations} == {[
		"fairness.missing",
		"the evidence has no fairness results for 'sex', which the requirement matrix requires for credit-scoring",
		"sex",
	]}
}

test_required_attribute_of_the_class_is_missing if {
	every class in td.classes {
		ids := td.ids(fairness.violations) with input as td.input_of([td.model_without(class, ["evidence/fairness/sex"])])
			with data.gatekeeper.matrix as with_models({})
			with data.gatekeeper.matrix.risk_classes.high.fairness.required_attributes as ["sex", 3]
			with data.gatekeeper.matrix.risk_classes.limited.fairness.required_attributes as ["sex"]
			with data.gatekeeper.lib.register_entry as td.registered
		ids == td.expect(class, {"high", "limited"}, {"fairness.missing"})
	}
}

test_required_attributes_reported_pass if {
	both := {"credit-scoring": {"fairness": {"required_attributes": ["sex", "age_band"]}}}
	found(td.model("high")) == set() with data.gatekeeper.matrix as with_models(both)
}

test_another_models_requirement_does_not_apply if {
	churn := {"churn": {"fairness": {"required_attributes": ["sex"]}}}
	violations := fairness.violations with input as td.input_of([without_sex])
		with data.gatekeeper.matrix as with_models(churn)
		with data.gatekeeper.lib.register_entry as td.registered
	violations == set()
}
