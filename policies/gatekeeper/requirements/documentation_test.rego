package gatekeeper.requirements.documentation_test

import data.gatekeeper.requirements.documentation
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(documentation.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_model_card_missing if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/model_card"])) == td.expect(
			class, {"high", "limited", "minimal"},
			{"documentation.model_card_missing"},
		)
		found(td.model_with(class, {"evidence": {"model_card": {"error": "model-card.md not found"}}})) == td.expect(
			class, {"high", "limited", "minimal"},
			{"documentation.model_card_missing"},
		)
	}
}

test_model_card_error_message if {
	model := td.model_with("minimal", {"evidence": {"model_card": {"error": "model-card.md not found"}}})
	violations := documentation.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {"the model card could not be read: model-card.md not found"}
	blank := td.model_with("minimal", {"evidence": {"model_card": {"error": ""}}})
	found(blank) == set()
}

test_sections_by_class if {
	every class in td.classes {
		found(td.model_without(class, ["evidence/model_card/sections/ethics"])) == td.expect(
			class, {"high"},
			{"documentation.model_card_section"},
		)
		found(td.model_with(class, {"evidence": {"model_card": {"sections": {"limitations": " \n"}}}})) == td.expect(
			class, {"high", "limited"},
			{"documentation.model_card_section"},
		)
		found(td.model_without(class, ["evidence/model_card/sections/intended_use"])) == td.expect(
			class, {"high", "limited", "minimal"},
			{"documentation.model_card_section"},
		)
	}
}

test_one_violation_per_missing_section if {
	model := td.model_without("high", ["evidence/model_card/sections"])
	violations := documentation.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.threshold | some v in violations} == {"intended_use", "limitations", "training_data", "evaluation", "ethics"}
	{v.message | some v in violations; v.threshold == "ethics"} == {"model card has no 'ethics' section (or it is empty)"}
}
