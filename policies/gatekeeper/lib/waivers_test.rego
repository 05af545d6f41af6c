package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

expiring(requirement, expires_at) := json.patch(td.waiver(requirement), [operation]) if {
	operation := {"op": "replace", "path": "/predicate/expires_at", "value": expires_at}
}

waived_input(waivers) := td.input_of([object.union(td.model("high"), {"waivers": waivers})])

test_reviewed_waivers if {
	doc := waived_input([
		td.waiver("pii.open_findings"),
		expiring("monitoring.required", td.earlier),
		expiring("lineage.run_id", "whenever"),
		td.waiver_by("fairness.missing", td.alice),
	])
	reviews := lib.reviewed_waivers with input as doc with data.gatekeeper.matrix as td.matrix
	{[w.requirement, w.state] | some w in reviews} == {
		["pii.open_findings", "active"],
		["monitoring.required", "expired"],
	}
	expired := lib.expired_waivers with input as doc with data.gatekeeper.matrix as td.matrix
	{w.source | some w in expired} == {"waivers/monitoring.required.dsse.json"}
}

test_waiver_for if {
	doc := waived_input([
		td.waiver("pii.open_findings"),
		expiring("pii.open_findings", "2027-12-31T00:00:00Z"),
		td.waiver("classification.risk_class_invalid"),
	])
	v := {"model": "credit-scoring", "version": "3", "requirement": "pii.open_findings"}
	waiver := lib.waiver_for(v) with input as doc with data.gatekeeper.matrix as td.matrix
	waiver.expires_at == "2027-12-31T00:00:00Z"
	waiver.reason == "mitigation under way"
	not lib.waiver_for(object.union(v, {"version": "4"})) with input as doc with data.gatekeeper.matrix as td.matrix
	not lib.waiver_for(object.union(v, {"requirement": "classification.risk_class_invalid"})) with input as doc
		with data.gatekeeper.matrix as td.matrix
}

test_rejected_waivers_say_why if {
	doc := waived_input([
		td.waiver("pii.open_findings"),
		td.waiver("signoff.role"),
		json.patch(td.waiver("fairness.missing"), [{"op": "replace", "path": "/subject_digests", "value": ["sha256:00"]}]),
		json.patch(td.waiver("lineage.run_id"), [{"op": "remove", "path": "/predicate/requirement"}]),
	])
	rejected := lib.rejected_waivers with input as doc
	{[w.requirement, w.reasons] | some w in rejected} == {
		["signoff.role", ["signoff.role can never be waived"]],
		["fairness.missing", [sprintf("subject digest does not match artifact digest %s", [td.digest])]],
		["waiver", ["waiver names no requirement"]],
	}
}
