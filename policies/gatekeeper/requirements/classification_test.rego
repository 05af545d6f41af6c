package gatekeeper.requirements.classification_test

import data.gatekeeper.lib
import data.gatekeeper.requirements.classification
import data.gatekeeper.testdata as td

# The register classifies each fixture as its evidence does (td.registered).
found(model) := ids if {
	ids := td.ids(classification.violations) with input as td.input_of([model])
		with lib.register_entry as td.registered
}

declared(class, annotation) := td.model_with(class, {"declared_risk_class": annotation})

test_compliant_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == object.get(
			{"prohibited": {"classification.prohibited"}, "unclassified": {"classification.unclassified"}},
			class, set(),
		)
	}
}

test_prohibited_is_never_waivable if {
	not lib.waivable("classification.prohibited")
	not lib.waivable("classification.unclassified")
}

test_annotation_raises_the_class if {
	every class in ["minimal", "limited", "high"] {
		found(declared(class, "prohibited")) == {"classification.prohibited"}
	}
	violations := classification.violations with input as td.input_of([declared("minimal", "prohibited")])
		with lib.register_entry as td.registered
	{v.message | some v in violations} == {concat("", [
		"risk class is prohibited (raised by the model-gatekeeper.io/risk-class annotation): ",
		"models of this class are never admitted",
	])}
}

test_annotation_cannot_classify if {
	found(declared("unclassified", "high")) == {"classification.unclassified"}
	found(declared("unclassified", "prohibited")) == {"classification.unclassified"}
}

test_annotation_cannot_lower_the_class if {
	found(declared("prohibited", "minimal")) == {"classification.prohibited"}
	every class in ["minimal", "limited", "high"] {
		found(declared(class, "minimal")) == set()
	}
}

test_invalid_annotation if {
	every class in td.classes {
		ids := found(declared(class, "medium"))
		"classification.risk_class_invalid" in ids
		found(declared(class, null)) == found(td.model(class))
	}
	violations := classification.violations with input as td.input_of([declared("high", 3)])
		with lib.register_entry as td.registered
	{[v.message, v.observed] | some v in violations} == {[
		"annotation model-gatekeeper.io/risk-class is 3, not one of minimal, limited, high, prohibited",
		3,
	]}
}

test_a_model_the_register_does_not_know_is_unclassified if {
	model := td.model_with("high", {"name": "fraud-detector", "ref": "models:/fraud-detector/3"})
	violations := classification.violations with input as td.input_of([model])
	{[v.requirement, v.message, v.observed] | some v in violations} == {[
		"classification.unclassified",
		concat("", [
			"fraud-detector is not in the classification register, so it is unclassified ",
			"(the evidence says 'high'; only the compliance team's register classifies a model)",
		]),
		"high",
	]}
	unnamed := json.remove(model, ["evidence/risk_class"])
	[v.message | some v in classification.violations] == [concat("", [
		"fraud-detector is not in the classification register, so it is unclassified ",
		"(the evidence names no risk_class; only the compliance team's register classifies a model)",
	])] with input as td.input_of([unnamed])
	lib.models[0].risk_class == "unclassified" with input as td.input_of([model])
}

test_the_evidence_may_not_lower_the_registered_class if {
	every class in ["minimal", "limited"] {
		doc := td.input_of([td.model(class)])
		violations := classification.violations with input as doc
		{[v.requirement, v.observed, v.threshold] | some v in violations} == {["classification.mismatch", class, "high"]}
		lib.models[0].risk_class == "high" with input as doc
	}
}

test_the_mismatch_names_both_classes if {
	[v.message | some v in classification.violations] == [concat("", [
		"the evidence says risk_class minimal, but the classification register classifies credit-scoring ",
		"as high (decided by model-risk-committee@example.com on 2026-09-15); a bundle may repeat the ",
		"register's class or be stricter, never lower",
	])] with input as td.input_for("minimal")
}

test_the_evidence_may_repeat_or_raise_the_registered_class if {
	td.ids(classification.violations) == set() with input as td.input_for("high")
	td.ids(classification.violations) == set() with input as td.input_for("unclassified")
	lib.models[0].risk_class == "high" with input as td.input_for("unclassified")
	td.ids(classification.violations) == {"classification.prohibited"} with input as td.input_for("prohibited")
}

test_a_malformed_register_entry_is_no_classification if {
	register := {"models": [{"model": "credit-scoring", "risk_class": "medium"}]}
	td.ids(classification.violations) == {"classification.unclassified"} with input as td.input_for("high")
		with data.gatekeeper.classification as register
}

test_classification_is_never_waivable if {
	not lib.waivable("classification.mismatch")
}

test_not_reported_without_evidence if {
	model := object.union(declared("prohibited", "medium"), {"evidence_error": {"kind": "missing", "message": "gone"}})
	found(model) == set()
}

test_class_not_admitted_by_matrix if {
	matrix := object.union(data.gatekeeper.matrix, {"overrides": {"production": {"limited": {"admitted": false}}}})
	every class in td.classes {
		ids := td.ids(classification.violations) with input as td.input_of([td.model(class)])
			with data.gatekeeper.matrix as matrix
			with lib.register_entry as td.registered
		ids == object.get(
			{"prohibited": {"classification.prohibited"}, "unclassified": {"classification.unclassified"}},
			class, td.expect(class, {"limited"}, {"classification.prohibited"}),
		)
	}
}
