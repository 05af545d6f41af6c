package gatekeeper.requirements.monitoring_test

import data.gatekeeper.requirements.monitoring
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(monitoring.violations) with input as td.input_of([model])
}

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_monitoring_required_for_high if {
	every class in td.classes {
		found(td.model_with(class, {"evidence": {"monitoring": {"drift": "disabled"}}})) == td.expect(
			class, {"high"},
			{"monitoring.required"},
		)
		found(td.model_without(class, ["evidence/monitoring"])) == td.expect(class, {"high"}, {"monitoring.required"})
	}
}

test_messages if {
	messages := {[v.message, v.observed] |
		some model in [
			td.model_with("high", {"evidence": {"monitoring": {"drift": "disabled"}}}),
			td.model_without("high", ["evidence/monitoring"]),
		]
		some v in monitoring.violations with input as td.input_of([model])
	}
	messages == {
		["drift monitoring is disabled, not enabled (monitoring.drift)", "disabled"],
		["drift monitoring is not declared, not enabled (monitoring.drift)", null],
	}
}
