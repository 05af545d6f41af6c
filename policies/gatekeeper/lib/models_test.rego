package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_effective_risk_class if {
	# [register, evidence, annotation, effective]
	every case in [
		["minimal", "minimal", null, "minimal"],
		["minimal", null, null, "minimal"],
		["minimal", "limited", null, "limited"],
		["limited", "minimal", null, "limited"],
		["minimal", "minimal", "limited", "limited"],
		["limited", "limited", "high", "high"],
		["high", "limited", null, "high"],
		["high", "high", "prohibited", "prohibited"],
		["prohibited", "minimal", null, "prohibited"],
		["high", "severe", "medium", "high"],
		[null, "high", "high", "unclassified"],
		["severe", "high", null, "unclassified"],
		[null, null, null, "unclassified"],
	] {
		lib.effective_risk_class(case[0], case[1], case[2]) == case[3]
	}
}

test_model_context if {
	model := object.union(td.model("limited"), {"declared_risk_class": "high"})
	ctx := lib.models[0] with input as td.input_of([model]) with lib.register_entry as td.registered
	ctx.name == "credit-scoring"
	ctx.version == "3"
	ctx.ref == "models:/credit-scoring/3"
	ctx.risk_class == "high"
	ctx.evidence_error == null
	ctx.requirements == data.gatekeeper.matrix.risk_classes.high
	count(ctx.signoffs) == 3
	ctx.waivers == []
}

test_contexts_per_class if {
	every class in td.classes {
		ctx := lib.models[0] with input as td.input_for(class) with lib.register_entry as td.registered
		ctx.risk_class == class
		assessed := lib.assessed with input as td.input_for(class) with lib.register_entry as td.registered
		count(assessed) == count(td.expect(class, {"high", "limited", "minimal"}, {0}))
		count(lib.with_evidence) == 1 with input as td.input_for(class)
	}
}

test_context_of_failed_evidence if {
	model := object.union(td.model("high"), {"evidence_error": {"kind": "unavailable", "message": "timeout"}})
	ctx := lib.models[0] with input as td.input_of([model])
	ctx.risk_class == null
	ctx.evidence == {}
	ctx.requirements == {}
	count(lib.assessed) == 0 with input as td.input_of([model])
	count(lib.with_evidence) == 0 with input as td.input_of([model])
}

test_context_of_malformed_entry if {
	ctx := lib.models[0] with input as {"models": [{"name": 12, "version": 4, "signoffs": "x", "evidence": {}}]}
	ctx.name == "12"
	ctx.version == "4"
	ctx.signoffs == []
	ctx.risk_class == "unclassified"
	lib.models == {} with input as {"models": "none"}
}
