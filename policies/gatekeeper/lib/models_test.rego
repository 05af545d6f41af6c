package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_effective_risk_class if {
	every case in [
		["minimal", null, "minimal"],
		["minimal", "limited", "limited"],
		["limited", "high", "high"],
		["high", "limited", "high"],
		["high", "prohibited", "prohibited"],
		["prohibited", "minimal", "prohibited"],
		["high", "severe", "high"],
		[null, "high", "unclassified"],
		["severe", "high", "unclassified"],
		[null, null, "unclassified"],
	] {
		lib.effective_risk_class(case[0], case[1]) == case[2]
	}
}

test_model_context if {
	model := object.union(td.model("limited"), {"declared_risk_class": "high"})
	ctx := lib.models[0] with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	ctx.name == "credit-scoring"
	ctx.version == "3"
	ctx.ref == "models:/credit-scoring/3"
	ctx.risk_class == "high"
	ctx.evidence_error == null
	ctx.requirements == td.matrix.risk_classes.high
	count(ctx.signoffs) == 3
	ctx.waivers == []
}

test_contexts_per_class if {
	every class in td.classes {
		ctx := lib.models[0] with input as td.input_for(class) with data.gatekeeper.matrix as td.matrix
		ctx.risk_class == class
		assessed := lib.assessed with input as td.input_for(class) with data.gatekeeper.matrix as td.matrix
		count(assessed) == count(td.expect(class, {"high", "limited", "minimal"}, {0}))
		count(lib.with_evidence) == 1 with input as td.input_for(class) with data.gatekeeper.matrix as td.matrix
	}
}

test_context_of_failed_evidence if {
	model := object.union(td.model("high"), {"evidence_error": {"kind": "unavailable", "message": "timeout"}})
	ctx := lib.models[0] with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	ctx.risk_class == null
	ctx.evidence == {}
	ctx.requirements == {}
	count(lib.assessed) == 0 with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	count(lib.with_evidence) == 0 with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
}

test_context_of_malformed_entry if {
	ctx := lib.models[0] with input as {"models": [{"name": 12, "version": 4, "signoffs": "x", "evidence": {}}]}
		with data.gatekeeper.matrix as td.matrix
	ctx.name == "12"
	ctx.version == "4"
	ctx.signoffs == []
	ctx.risk_class == "unclassified"
	lib.models == {} with input as {"models": "none"} with data.gatekeeper.matrix as td.matrix
}
