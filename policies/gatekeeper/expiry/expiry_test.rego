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

test_statements_list_signoffs_of_required_roles_and_active_waivers if {
	model := object.union(td.model("limited"), {"waivers": [td.waiver("pii.open_findings")]})
	entries := expiry.statements with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{[e.kind, e.name, e.requirement, e.source] | some e in entries} == {
		["signoff", "owner", "signoff.role", "signoffs/owner.dsse.json"],
		["waiver", "pii.open_findings", "pii.open_findings", "waivers/pii.open_findings.dsse.json"],
	}
}

test_warnings_reach_the_decision_even_when_allowed if {
	doc := object.union(td.input_for("high"), {"now": days_before_later["10 days"]})
	decision := data.gatekeeper.decision with input as doc with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	decision.allowed
	count(decision.warnings) == 2
	[e.name | some e in decision.expiries] == ["compliance", "validator"]
}
