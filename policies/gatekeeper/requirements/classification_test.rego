package gatekeeper.requirements.classification_test

import data.gatekeeper.lib
import data.gatekeeper.requirements.classification
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(classification.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
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
	not lib.waivable("classification.prohibited") with data.gatekeeper.matrix as td.matrix
	not lib.waivable("classification.unclassified") with data.gatekeeper.matrix as td.matrix
}

test_annotation_raises_the_class if {
	every class in ["minimal", "limited", "high"] {
		found(declared(class, "prohibited")) == {"classification.prohibited"}
	}
	violations := classification.violations with input as td.input_of([declared("minimal", "prohibited")])
		with data.gatekeeper.matrix as td.matrix
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
		with data.gatekeeper.matrix as td.matrix
	{[v.message, v.observed] | some v in violations} == {[
		"annotation model-gatekeeper.io/risk-class is 3, not one of minimal, limited, high, prohibited",
		3,
	]}
}

test_invalid_evidence_class_is_unclassified if {
	model := td.model_with("high", {"evidence": {"risk_class": "severe"}})
	violations := classification.violations with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
	{[v.requirement, v.message, v.observed] | some v in violations} == {[
		"classification.unclassified",
		"the evidence bundle's risk_class 'severe' is not one of minimal, limited, high, prohibited",
		"severe",
	]}
}

test_not_reported_without_evidence if {
	model := object.union(declared("prohibited", "medium"), {"evidence_error": {"kind": "missing", "message": "gone"}})
	found(model) == set()
}

test_class_not_admitted_by_matrix if {
	matrix := object.union(td.matrix, {"overrides": {"production": {"limited": {"admitted": false}}}})
	every class in td.classes {
		ids := td.ids(classification.violations) with input as td.input_of([td.model(class)])
			with data.gatekeeper.matrix as matrix
		ids == object.get(
			{"prohibited": {"classification.prohibited"}, "unclassified": {"classification.unclassified"}},
			class, td.expect(class, {"limited"}, {"classification.prohibited"}),
		)
	}
}
