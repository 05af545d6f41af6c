package gatekeeper.requirements.staleness_test

import data.gatekeeper.requirements.staleness
import data.gatekeeper.testdata as td

found(model) := ids if {
	ids := td.ids(staleness.violations) with input as td.input_of([model]) with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

found_at(now, model) := violations if {
	violations := staleness.violations with input as object.union(td.input_of([model]), {"now": now})
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

scanned(at) := {"evidence": {"pii_scan": {"scanned_at": at}}}

test_fresh_evidence_at_every_class if {
	every class in td.classes {
		found(td.model(class)) == set()
	}
}

test_old_pii_scan_is_stale_for_high_and_limited_only if {
	every class in td.classes {
		stale := td.expect(class, {"high", "limited"}, {"evidence.stale"})
		found(td.model_with(class, scanned("2025-11-01T00:00:00Z"))) == stale
	}
}

test_message_names_the_field_and_its_age if {
	violations := found_at("2026-11-22T08:00:00Z", td.model_with("high", scanned("2025-10-01T00:00:00Z")))
	{[v.message, v.observed, v.threshold] | some v in violations} == {[
		"pii_scan.scanned_at is 417.4 days old (2025-10-01T00:00:00Z), above the 365 days the class allows",
		417.4, 365,
	]}
}

test_exactly_the_allowed_age_is_fresh if {
	found_at("2026-10-01T00:00:00Z", td.model_with("high", scanned("2025-10-01T00:00:00Z"))) == set()
	stale := found_at("2026-10-01T00:00:01Z", td.model_with("high", scanned("2025-10-01T00:00:00Z")))
	count(stale) == 1
}

test_missing_or_bad_time_fails_closed if {
	found(td.model_without("high", ["evidence/pii_scan/scanned_at"])) == {"evidence.stale"}
	found(td.model_with("high", scanned("last week"))) == {"evidence.stale"}
	found(td.model_with("high", scanned(20251001))) == {"evidence.stale"}
	violations := staleness.violations with input as object.remove(td.input_for("high"), ["now"])
		with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {
	sprintf("cannot check the age of %s: input.now is missing or not an RFC3339 time", [path]) |
		some path in ["pii_scan.scanned_at", "fairness.sex.evaluated_at", "fairness.age_band.evaluated_at"]
	}
}

test_no_scan_is_not_stale if {
	# pii.scan_missing reports it; staleness only dates evidence that is there
	found(td.model_without("high", ["evidence/pii_scan"])) == set()
}

test_off_for_minimal_and_by_override if {
	found(td.model_with("minimal", scanned("2020-01-01T00:00:00Z"))) == set()
	override := {"production": {"high": {"max_evidence_age_days": {"pii_scan": null}}}}
	matrix := object.union(td.matrix, {"overrides": override})
	old := td.input_of([td.model_with("high", scanned("2020-01-01T00:00:00Z"))])
	td.ids(staleness.violations) == set() with input as old with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
}

drift_at(at) := {"evidence": {"drift": object.union(td.drift_result, {"evaluated_at": at})}}

test_drift_result_older_than_30_days_is_stale_for_high_only if {
	every class in td.classes {
		stale := td.expect(class, {"high"}, {"evidence.stale"})
		found(td.model_with(class, drift_at("2026-10-01T00:00:00Z"))) == stale
	}
}

test_drift_result_age_message_and_limit if {
	found_at("2026-10-31T00:00:00Z", td.model_with("high", drift_at("2026-10-01T00:00:00Z"))) == set()
	violations := found_at("2026-11-22T08:00:00Z", td.model_with("high", drift_at("2026-10-01T00:00:00Z")))
	{[v.message, v.observed, v.threshold] | some v in violations} == {[
		"drift.evaluated_at is 52.4 days old (2026-10-01T00:00:00Z), above the 30 days the class allows",
		52.4, 30,
	]}
}

test_drift_result_without_its_time_fails_closed_for_high if {
	undated := {"evidence": {"drift": {"drift_share": 0.1}}}
	message := "drift.evaluated_at is missing, so its age cannot be checked"
	{v.message | some v in found_at(td.now, td.model_with("high", undated))} == {message}
	found(td.model_with("limited", undated)) == set()
}

limit_all := {"production": {"high": {"max_evidence_age_days": {"data_quality": 30, "drift": 30, "fairness": 30}}}}

dated := {"evidence": {
	"data_quality": {"evaluated_at": "2026-09-01T00:00:00Z", "success_percent": 100},
	"drift": {"evaluated_at": "2026-11-20T00:00:00Z", "drift_share": 0},
	"fairness": {"sex": {"evaluated_at": "2026-08-01T00:00:00Z"}},
}}

test_data_quality_drift_and_fairness_times if {
	matrix := object.union(td.matrix, {"overrides": limit_all})
	violations := staleness.violations with input as td.input_of([td.model_with("high", dated)])
		with data.gatekeeper.matrix as matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.message | some v in violations} == {
		"data_quality.evaluated_at is 82.4 days old (2026-09-01T00:00:00Z), above the 30 days the class allows",
		"fairness.sex.evaluated_at is 113.4 days old (2026-08-01T00:00:00Z), above the 30 days the class allows",
	}
}

test_fairness_without_time_fails_closed_where_limited if {
	every class in td.classes {
		undated := td.model_without(class, ["evidence/fairness/sex/evaluated_at"])
		violations := staleness.violations with input as td.input_of([undated]) with data.gatekeeper.matrix as td.matrix
			with data.gatekeeper.lib.register_entry as td.registered
		messages := {v.message | some v in violations}
		message := "fairness.sex.evaluated_at is missing, so its age cannot be checked"
		messages == td.expect(class, {"high", "limited"}, {message})
	}
}

test_the_age_is_rounded_up_to_one_decimal if {
	# 30 days and one hour: above the limit, so never shown as 30.0
	violations := found_at("2026-10-31T01:00:00Z", td.model_with("high", drift_at("2026-10-01T00:00:00Z")))
	{[v.message, v.observed] | some v in violations} == {[
		"drift.evaluated_at is 30.1 days old (2026-10-01T00:00:00Z), above the 30 days the class allows",
		30.1,
	]}
}

test_in_the_decision if {
	old := td.input_of([td.model_with("high", scanned("2025-01-01T00:00:00Z"))])
	decision := data.gatekeeper.decision with input as old with data.gatekeeper.matrix as td.matrix
		with data.gatekeeper.lib.register_entry as td.registered
	{v.requirement | some v in decision.violations} == {"evidence.stale"}
	not decision.allowed
}

retired(matrix) := settings if {
	settings := staleness.retired_settings with data.gatekeeper.matrix as matrix
}

test_the_shipped_matrix_sets_no_retired_setting if {
	count(staleness.retired_settings) == 0
}

test_drift_max_age_days_is_refused_with_what_to_set_instead if {
	set_in_class := [{"op": "add", "path": "/risk_classes/high/drift/max_age_days", "value": 30}]
	retired(json.patch(td.matrix, set_in_class)) == {concat("", [
		"risk_classes.high.drift.max_age_days is no longer read: ",
		"set risk_classes.high.max_evidence_age_days.drift (days) instead",
	])}

	# even null (turning the limit off) is refused: the setting is not read either way
	override := {"staging": {"limited": {"drift": {"max_age_days": null}}}}
	retired(object.union(td.matrix, {"overrides": override})) == {concat("", [
		"overrides.staging.limited.drift.max_age_days is no longer read: ",
		"set overrides.staging.limited.max_evidence_age_days.drift (days) instead",
	])}
}

test_a_gate_serving_a_retired_drift_age_fails_closed if {
	set_in_class := [{"op": "add", "path": "/risk_classes/high/drift/max_age_days", "value": 30}]
	matrix := json.patch(td.matrix, set_in_class)
	every class in td.classes {
		violations := staleness.violations with input as td.input_of([td.model(class)])
			with data.gatekeeper.matrix as matrix
			with data.gatekeeper.lib.register_entry as td.registered
		messages := {v.message | some v in violations}
		messages == td.expect(class, {"high"}, {concat("", [
			"the requirement matrix sets drift.max_age_days, which is no longer read: ",
			"set max_evidence_age_days.drift (days) instead",
		])})
	}
}
