package gatekeeper.requirements.monitoring_test

import data.gatekeeper.requirements.monitoring
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(monitoring.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

# the compliant model with drift monitoring in the given state and no measured drift result
declared(class, drift) := json.remove(
	td.model_with(class, {"evidence": {"monitoring": {"drift": drift}}}),
	["evidence/drift"],
)

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_monitoring_required_for_high if {
	every class in td.classes {
		found(declared(class, "disabled")) == td.expect(class, {"high"}, {"monitoring.required"})
		found(td.model_without(class, ["evidence/monitoring", "evidence/drift"])) == td.expect(
			class, {"high"},
			{"monitoring.required"},
		)
		found(declared(class, "enabled")) == set()
	}
}

test_a_measured_drift_result_is_monitoring if {
	disabled := {"evidence": {"monitoring": {"drift": "disabled"}, "drift": td.drift_result}}
	found(td.model_with("high", disabled)) == set()
	found(json.remove(td.model_with("high", {"evidence": {"drift": td.drift_result}}), ["evidence/monitoring"])) == set()
}

test_messages if {
	messages := {[v.message, v.observed] |
		some model in [declared("high", "disabled"), td.model_without("high", ["evidence/monitoring", "evidence/drift"])]
		some v in monitoring.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
			with data.gatekeeper.lib.register_entry as td.registered
	}
	messages == {
		["drift monitoring is disabled, not enabled (monitoring.drift)", "disabled"],
		["drift monitoring is not declared, not enabled (monitoring.drift)", null],
	}
}
