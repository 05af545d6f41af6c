package gatekeeper.batch_test

import data.gatekeeper.batch
import data.gatekeeper.testdata as td

test_one_decision_per_item_in_order if {
	items := [
		td.input_for("high"),
		td.input_for("prohibited"),
		td.input_in("staging", [td.model("unclassified")]),
		{},
	]
	decisions := batch.decisions with input as {"items": items} with data.gatekeeper.matrix as td.matrix
	[[d.allowed, d.enforcement] | some d in decisions] == [
		[true, "deny"],
		[false, "deny"],
		[true, "warn"],
		[true, "deny"],
	]
	decisions[1].violations[0].requirement == "classification.prohibited"
	decisions[2].warnings == [concat("", [
		"[classification.unclassified] credit-scoring@3: the evidence bundle has no risk_class, so the model is ",
		"unclassified (the risk-class annotation can raise a class but cannot classify a model)",
	])]
}

test_no_items if {
	batch.decisions == [] with input as {} with data.gatekeeper.matrix as td.matrix
	batch.decisions == [] with input as {"items": []} with data.gatekeeper.matrix as td.matrix
}
