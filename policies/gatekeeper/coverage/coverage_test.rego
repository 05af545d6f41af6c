package gatekeeper.coverage_test

import data.gatekeeper.coverage
import data.gatekeeper.testdata as td

cells_for(filter) := cells if {
	cells := coverage.report.cells with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.regulations as td.regulations
		with input as filter
}

eu_of(cell) := [text | some text in cell.texts; text.text == "eu"][0]

test_every_class_and_environment_without_a_filter if {
	cells := coverage.report.cells with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.regulations as td.regulations
	[[c.risk_class, c.environment] | some c in cells] == [[class, environment] |
		some class in ["minimal", "limited", "high", "prohibited"]
		some environment in ["development", "production", "staging"]
	]
}

test_served_and_unserved_references_of_one_cell if {
	[cell] := cells_for({"risk_class": "high", "environment": "production"})
	cell.enforcement == "deny"
	"pii.open_findings" in cell.requirements
	eu := eu_of(cell)
	eu.version == "2024/1"
	[[r.id, r.requirements] | some r in eu.served] == [
		["Art. 5", ["pii.scan_missing"]],
		["Art. 10", ["fairness.demographic_parity_ratio", "pii.open_findings", "pii.scan_missing"]],
	]
	eu.unserved == [{"id": "Art. 12", "title": "Records", "summary": "Events are logged."}]
}

test_a_family_the_class_leaves_out_serves_nothing_there if {
	# minimal has no pii and no fairness in the test matrix
	[cell] := cells_for({"risk_class": "minimal", "environment": "development"})
	cell.enforcement == "dryrun"
	not "pii.open_findings" in cell.requirements
	"classification.unclassified" in cell.requirements
	"namespace.environment_label" in cell.requirements
	[r.id | some r in eu_of(cell).unserved] == ["Art. 5", "Art. 10", "Art. 12"]
}

test_an_override_dropping_a_family_drops_its_references if {
	matrix := object.union(td.matrix, {"overrides": {"staging": {"high": {"pii": null, "fairness": null}}}})
	cells := coverage.report.cells with data.gatekeeper.matrix as matrix
		with data.gatekeeper.regulations as td.regulations
		with input as {"risk_class": "high", "environment": "staging"}
	[r.id | some r in eu_of(cells[0]).unserved] == ["Art. 5", "Art. 10", "Art. 12"]
}

test_an_unknown_filter_keeps_no_cell if {
	cells_for({"risk_class": "severe"}) == []
	coverage.report.risk_classes == ["minimal", "limited", "high", "prohibited"]
	coverage.report.environments == ["development", "production", "staging"] with data.gatekeeper.matrix as td.matrix
}
