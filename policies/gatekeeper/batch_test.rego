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
		with data.gatekeeper.lib.register_entry as td.registered
	[[d.allowed, d.enforcement] | some d in decisions] == [
		[true, "deny"],
		[false, "deny"],
		[true, "warn"],
		[true, "deny"],
	]
	decisions[1].violations[0].requirement == "classification.prohibited"
	decisions[2].warnings == [concat("", [
		"[classification.unclassified] credit-scoring@3: credit-scoring is not in the classification register, so it ",
		"is unclassified (the evidence names no risk_class; only the compliance team's register classifies a model)",
	])]
}

test_no_items if {
	batch.decisions == [] with input as {} with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	batch.decisions == [] with input as {"items": []} with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}
