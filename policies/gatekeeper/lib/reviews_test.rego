package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

ctx := c if {
	c := lib.models[0] with input as td.input_for("high")
}

claimed(changes) := object.union(td.signoff("validator", td.alice).predicate, changes)

test_role_settings_come_from_the_matrix if {
	lib.signoff_role("validator") == {"reviews_all_but": ["drift"], "max_validity_days": 730}
	lib.signoff_role_settings == {"default": {"reviews_all_but": ["drift"], "max_validity_days": 730}}
	roles := {"default": {"reviews_all_but": ["drift"], "max_validity_days": 730}, "owner": {"reviews": ["model_card"]}}
	settings := lib.signoff_role("owner") with data.gatekeeper.matrix.signoff_roles as roles
	settings == {"reviews": ["model_card"], "reviews_all_but": ["drift"], "max_validity_days": 730}
	lib.signoff_role("owner") == {} with data.gatekeeper.matrix as {}
}

test_a_role_reviews_every_section_but_drift_by_default if {
	sort(lib.reviewed_sections("validator", ctx)) == sort(object.keys(object.remove(td.sections, ["drift"])))
	roles := {"owner": {"reviews": ["model_card", "fairness", "nonsense"]}}
	sections := lib.reviewed_sections("owner", ctx) with data.gatekeeper.matrix.signoff_roles as roles
	sections == ["model_card", "fairness"]
}

test_an_unchanged_review_has_no_problem if {
	not lib.review_problem(claimed({}), ctx)
}

test_a_section_changed_since_signing_is_named if {
	changes := {"fairness": "sha256:ff", "performance": "sha256:ee"}
	edited := object.union(ctx, {"sections": object.union(td.sections, changes)})
	problem := lib.review_problem(claimed({}), edited)
	problem == "evidence changed since signing: fairness, performance (ask for a new sign-off)"
	drift_only := object.union(ctx, {"sections": object.union(td.sections, {"drift": "sha256:ff"})})
	not lib.review_problem(claimed({}), drift_only)
}

test_a_moved_artifact_is_named if {
	moved := object.union(ctx, {"evidence": {"artifact": {"uri": "s3://scratch/unreviewed-model"}}})
	lib.review_problem(claimed({}), moved) == concat("", [
		"the artifact location changed since signing: signed s3://models/credit-scoring/3, ",
		"now s3://scratch/unreviewed-model",
	])
}

test_a_sign_off_must_cover_what_its_role_reviews if {
	partial := {"artifact_uri": "s3://models/credit-scoring/3", "sections": {"fairness": td.sections.fairness}}
	statement := json.patch(claimed({}), [{"op": "replace", "path": "/reviewed", "value": partial}])
	lib.review_problem(statement, ctx) == concat("", [
		"it does not cover artifact, artifacts, data_quality, explainability, lineage, model_card, monitoring, ",
		"owner, performance, pii_scan, risk_class, which the validator role reviews (ask for a new sign-off)",
	])
	lib.review_problem(claimed({"reviewed": null}), ctx) == concat("", [
		"it names no reviewed evidence (made before sign-offs covered the evidence sections): ",
		"sign it again with gatekeeper signoff create",
	])
}

test_validity_limits if {
	not lib.validity_problem(claimed({})) with input as td.input_for("high")
	unparsable := claimed({"signed_at": "yesterday"})
	lib.validity_problem(unparsable) == "signed_at yesterday is not an RFC3339 time" with input as td.input_for("high")
	future := claimed({"signed_at": "2026-11-22T08:10:00Z"})
	lib.validity_problem(future) == "signed_at 2026-11-22T08:10:00Z is in the future" with input as td.input_for("high")
	not lib.validity_problem(claimed({"signed_at": "2026-11-22T08:04:00Z"})) with input as td.input_for("high")
	long := claimed({"expires_at": "2250-01-01T00:00:00Z"})
	too_long := "valid for 81541 days from signing; a validator sign-off may be valid for at most 730 days"
	lib.validity_problem(long) == too_long with input as td.input_for("high")
	not lib.validity_problem(claimed({"expires_at": "2028-09-30T00:00:00Z"})) with input as td.input_for("high")
}
