package gatekeeper.expiry_test

import data.gatekeeper.expiry
import data.gatekeeper.testdata as td

# td.later (2027-03-30T00:00:00Z), when the test sign-offs and waivers expire, is
# 128 days after td.now; these times are within 30 days of it, or not.
days_before_later := {
	"45 days": "2027-02-13T00:00:00Z",
	"30 days": "2027-02-28T00:00:00Z",
	"10 days": "2027-03-20T00:00:00Z",
	"1 day": "2027-03-29T00:00:00Z",
	"less than a day": "2027-03-29T12:00:00Z",
}

warnings_at(now, model) := lines if {
	lines := expiry.warnings with input as object.union(td.input_of([model]), {"now": now})
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

test_no_warning_long_before_expiry if {
	expiry.warnings == set() with input as td.input_for("high") with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	warnings_at(days_before_later["45 days"], td.model("high")) == set()
}

test_high_warns_about_each_required_signoff_within_30_days if {
	warnings_at(days_before_later["10 days"], td.model("high")) == {
		"[signoff.role] credit-scoring@3: compliance sign-off expires in 10 days (2027-03-30T00:00:00Z)",
		"[signoff.role] credit-scoring@3: validator sign-off expires in 10 days (2027-03-30T00:00:00Z)",
	}
	count(warnings_at(days_before_later["30 days"], td.model("high"))) == 2
}

test_remaining_time_wording if {
	every left in ["1 day", "less than a day"] {
		some line in warnings_at(days_before_later[left], td.model("limited"))
		line == sprintf("[signoff.role] credit-scoring@3: owner sign-off expires in %s (2027-03-30T00:00:00Z)", [left])
	}
}

test_expired_signoffs_do_not_warn_they_fail if {
	warnings_at("2027-04-01T00:00:00Z", td.model("high")) == set()
}

test_a_class_without_warning_days_does_not_warn if {
	matrix := json.remove(td.matrix, ["risk_classes/high/expiry_warning_days"])
	lines := expiry.warnings with input as object.union(td.input_for("high"), {"now": days_before_later["1 day"]})
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	lines == set()
}

test_waivers_warn_naming_the_waived_requirement if {
	model := object.union(td.model("minimal"), {"waivers": [td.waiver("lineage.run_id")]})
	lines := warnings_at(days_before_later["10 days"], model)
	lines == {"[lineage.run_id] credit-scoring@3: lineage.run_id waiver expires in 10 days (2027-03-30T00:00:00Z)"}
}

test_statements_list_signoffs_of_required_roles_active_waivers_and_limited_evidence if {
	model := object.union(td.model("limited"), {"waivers": [td.waiver("pii.open_findings")]})
	entries := expiry.statements with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[e.kind, e.name, e.requirement, e.source, e.expires_at] | some e in entries} == {
		["signoff", "owner", "signoff.role", "signoffs/owner.dsse.json", td.later],
		["waiver", "pii.open_findings", "pii.open_findings", "waivers/pii.open_findings.dsse.json", td.later],
		["evidence", "pii_scan", "evidence.stale", "pii_scan.scanned_at", "2027-10-01T00:00:00Z"],
		["evidence", "fairness.sex", "evidence.stale", "fairness.sex.evaluated_at", "2027-11-20T00:00:00Z"],
		["evidence", "fairness.age_band", "evidence.stale", "fairness.age_band.evaluated_at", "2027-11-20T00:00:00Z"],
	}
}

drift_at(at) := {"evidence": {"drift": object.union(td.drift_result, {"evaluated_at": at})}}

test_evidence_going_stale_warns_within_the_warning_days if {
	# high limits drift results to 30 days: this one goes stale on 2026-12-20, 27 days after td.now
	model := td.model_with("high", drift_at("2026-11-20T00:00:00Z"))
	in_27_days := "[evidence.stale] credit-scoring@3: drift result expires in 27 days (2026-12-20T00:00:00Z)"
	warnings_at(td.now, model) == {in_27_days}
	in_29_days := "[evidence.stale] credit-scoring@3: drift result expires in 29 days (2026-11-30T00:00:00Z)"
	warnings_at("2026-11-01T00:00:00Z", td.model_with("high", drift_at("2026-10-31T00:00:00Z"))) == {in_29_days}
	warnings_at("2026-10-01T00:00:00Z", td.model_with("high", drift_at("2026-09-30T00:00:00Z"))) != set()
	warnings_at("2026-11-22T00:00:00Z", td.model_with("high", drift_at("2026-12-20T00:00:00Z"))) == set()
}

test_stale_or_undated_evidence_is_not_an_expiry_it_is_a_violation if {
	stale := td.model_with("high", drift_at("2026-09-01T00:00:00Z"))
	entries := expiry.statements with input as td.input_of([stale]) with data.gatekeeper.matrix as td.matrix
	not "drift" in {e.name | some e in entries}
	undated := td.model_without("high", ["evidence/pii_scan/scanned_at"])
	names := {e.name | some e in expiry.statements} with input as td.input_of([undated])
		with data.gatekeeper.matrix as td.matrix
	not "pii_scan" in names
}

test_warnings_reach_the_decision_even_when_allowed if {
	doc := object.union(td.input_for("high"), {"now": days_before_later["10 days"]})
	decision := data.gatekeeper.decision with input as doc with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	decision.allowed
	count(decision.warnings) == 2

	# soonest first: the sign-offs (2027-03-30), the PII scan (2027-10-01), the fairness results (2027-11-20)
	[e.name | some e in decision.expiries] == [
		"compliance", "validator", "pii_scan",
		"fairness.age_band", "fairness.sex",
	]
}
