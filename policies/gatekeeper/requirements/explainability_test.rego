package gatekeeper.requirements.explainability_test

import data.gatekeeper.requirements.explainability
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(explainability.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_report_required_for_high if {
	every class in td.classes {
		every model in [
			td.model_without(class, ["evidence/explainability"]),
			td.model_with(class, {"evidence": {"explainability": {"method": ""}}}),
			td.model_with(class, {"evidence": {"explainability": {"report_present": false}}}),
			td.model_without(class, ["evidence/explainability/report_present"]),
		] {
			found(model) == td.expect(class, {"high"}, {"explainability.report"})
		}
	}
}

test_messages if {
	no_method := td.model_without("high", ["evidence/explainability/method"])
	no_report := td.model_with("high", {"evidence": {"explainability": {"report_present": false}}})
	unnamed := td.model_without("high", ["evidence/explainability/report", "evidence/explainability/report_present"])
	messages := {v.message |
		some model in [no_method, no_report, unnamed]
		some v in explainability.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
			with data.gatekeeper.lib.register_entry as td.registered
	}
	messages == {
		"the evidence names no explainability method",
		"the explainability report shap-importance.json was not found",
		"the explainability report (none named) was not found",
	}
}

test_report_must_be_feature_importance if {
	shaped := {"evidence": {"explainability": {"report_features": 3}}}
	found(td.model_with("high", shaped)) == set()
	misshapen := {"evidence": {"explainability": {"report_problem": "no global_importance map"}}}
	every class in td.classes {
		found(td.model_with(class, misshapen)) == td.expect(class, {"high"}, {"explainability.report_format"})
	}
	violations := explainability.violations with input as td.input_of([td.model_with("high", misshapen)])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	message := concat("", [
		"the explainability report shap-importance.json is not a feature-importance report: ",
		"no global_importance map",
	])
	{v.message | some v in violations} == {message}
	absent := {"evidence": {"explainability": {"report_present": false, "report_problem": "x"}}}
	found(td.model_with("high", absent)) == {"explainability.report"}
}
