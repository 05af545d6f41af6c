package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

signoff_rejections(statement) := rejections if {
	doc := td.input_for("high")
	rejections := lib.signoff_rejections(statement, lib.models[0]) with input as doc
		with data.gatekeeper.matrix as td.matrix
}

waiver_rejections(statement) := rejections if {
	doc := td.input_for("high")
	rejections := lib.waiver_rejections(statement, lib.models[0]) with input as doc
		with data.gatekeeper.matrix as td.matrix
}

# statement with the JSON patch operations applied
patched(statement, operations) := json.patch(statement, operations)

set_to(path, value) := {"op": "replace", "path": path, "value": value}

signoff_rejected(statement, reason) if signoff_rejections(statement) == [reason]

waiver_rejected(statement, reason) if waiver_rejections(statement) == [reason]

test_valid_signoff if {
	signoff_rejections(td.signoff("validator", td.alice)) == []
	signoff_rejections(td.signoff("owner", td.alice)) == []
	signoff_rejections(td.signoff("compliance", td.bob)) == []
}

test_signoff_signature if {
	statement := td.signoff("validator", td.alice)
	signoff_rejections(patched(statement, [
		set_to("/signature_valid", false),
		set_to("/error", "ed25519 verification failed"),
	])) == ["signature not valid: ed25519 verification failed"]
	signoff_rejections(object.remove(statement, ["signature_valid"])) == ["signature not valid"]
}

test_signoff_predicate_type if {
	statement := patched(td.signoff("validator", td.alice), [set_to("/predicate_type", lib.waiver_type)])
	signoff_rejected(statement, "not a sign-off statement (predicate type https://model-gatekeeper.io/waiver/v1)")
}

test_signoff_key_and_signer if {
	statement := td.signoff("validator", td.alice)
	signoff_rejections(patched(statement, [set_to("/keyid", "0000")])) == ["key 0000 is not trusted"]
	signoff_rejections(object.remove(statement, ["keyid"])) == ["key  is not trusted"]
	wrong_signer := patched(statement, [set_to("/predicate/signer", td.bob.name)])
	signoff_rejected(wrong_signer, "signed by bob@example.com but key belongs to alice@example.com")
}

test_signoff_role if {
	signoff_rejections(td.signoff("compliance", td.alice)) == ["role 'compliance' not granted to alice@example.com"]
	not_owner := "role 'owner' not granted: bob@example.com is not the model owner"
	signoff_rejected(td.signoff("owner", td.bob), sprintf("%s (alice@example.com)", [not_owner]))
	no_owner := json.remove(td.input_for("high"), ["models/0/evidence/owner"])
	rejections := lib.signoff_rejections(td.signoff("owner", td.bob), lib.models[0]) with input as no_owner
		with data.gatekeeper.matrix as td.matrix
	rejections == ["role 'owner' not granted: bob@example.com is not the model owner (none named)"]
}

test_signoff_subject if {
	statement := td.signoff("validator", td.alice)
	signoff_rejected(patched(statement, [set_to("/predicate/version", "4")]), "statement is for credit-scoring@4")
	other_digest := patched(statement, [set_to("/subject_digests", ["sha256:00"])])
	signoff_rejected(other_digest, sprintf("subject digest does not match artifact digest %s", [td.digest]))
	no_digest := json.remove(td.input_for("high"), ["models/0/evidence/artifact/digest"])
	rejections := lib.signoff_rejections(statement, lib.models[0]) with input as no_digest
		with data.gatekeeper.matrix as td.matrix
	rejections == ["the evidence names no artifact digest to bind the sign-off to"]
}

test_signoff_expiry if {
	statement := td.signoff("validator", td.alice)
	signoff_rejected(patched(statement, [set_to("/predicate/expires_at", td.now)]), "expired on 2026-11-22T08:00:00Z")
	signoff_rejections(patched(statement, [set_to("/predicate/expires_at", "2026-11-22T08:00:01Z")])) == []
	unparsable := patched(statement, [set_to("/predicate/expires_at", "next year")])
	signoff_rejected(unparsable, "expiry next year is not an RFC3339 time")
	no_now := object.remove(td.input_for("high"), ["now"])
	rejections := lib.signoff_rejections(statement, lib.models[0]) with input as no_now
		with data.gatekeeper.matrix as td.matrix
	rejections == ["cannot check expiry: input.now is missing or not an RFC3339 time"]
}

test_not_a_statement if {
	"signature not valid" in signoff_rejections("garbage")
	"signature not valid" in waiver_rejections(null)
}

test_valid_waiver if {
	waiver_rejections(td.waiver("pii.open_findings")) == []
}

test_waiver_checks if {
	waiver := td.waiver("pii.open_findings")
	waiver_rejections(patched(waiver, [set_to("/signature_valid", false)])) == ["signature not valid"]
	signoff := patched(waiver, [set_to("/predicate_type", lib.signoff_type)])
	waiver_rejected(signoff, "not a waiver statement (predicate type https://model-gatekeeper.io/signoff/v1)")
	wrong_approver := patched(waiver, [set_to("/predicate/approver", td.alice.name)])
	waiver_rejected(wrong_approver, "signed by alice@example.com but key belongs to bob@example.com")
	by_validator := td.waiver_by("pii.open_findings", td.alice)
	waiver_rejected(by_validator, "alice@example.com may not approve waivers (approver roles: compliance)")
	waiver_rejections(patched(waiver, [set_to("/predicate/model", "fraud")])) == ["waiver is for model fraud"]
	other_versions := patched(waiver, [set_to("/predicate/versions", ["4", 5])])
	waiver_rejected(other_versions, "waiver does not cover version 3 (versions: 4, 5)")
	waiver_rejections(patched(waiver, [set_to("/predicate/requirement", "")])) == ["waiver names no requirement"]
}

test_waiver_state if {
	lib.waiver_state(td.later) == "active" with input as {"now": td.now} with data.gatekeeper.matrix as td.matrix
	lib.waiver_state(td.now) == "expired" with input as {"now": td.now} with data.gatekeeper.matrix as td.matrix
	lib.waiver_state("soon") == "invalid" with input as {"now": td.now} with data.gatekeeper.matrix as td.matrix
	lib.waiver_state(td.later) == "invalid" with input as {} with data.gatekeeper.matrix as td.matrix
}

test_key_owners if {
	{signer.name | some signer in lib.key_owners[td.alice.keyid]} == {td.alice.name}
	lib.signers == [] with data.gatekeeper.signers as {}
	lib.key_owners == {} with data.gatekeeper.signers as {"signers": "none"}
}

test_key_signer_matches_key_and_name if {
	statement := td.signoff("validator", td.alice)
	name := td.alice.name
	lib.key_signer(statement, name).name == name
	lib.key_signer(statement, td.bob.name) == null
	lib.key_signer(object.remove(statement, ["keyid"]), name) == null
	lib.key_signer(statement, name) == null with data.gatekeeper.signers as {"signers": [{"name": name}]}
}

test_signoff_subject_must_name_the_model_version if {
	statement := td.signoff("validator", td.alice)
	other := patched(statement, [set_to("/subjects", [{"name": "models:/fraud-detector/1", "digest": td.digest}])])
	why := "its subject for %s names models:/fraud-detector/1, not models:/credit-scoring/3"
	signoff_rejected(other, sprintf(why, [td.digest]))
	signoff_rejections(object.remove(statement, ["subjects"])) == []
}

test_signoff_validity_and_review if {
	statement := td.signoff("validator", td.alice)
	future := patched(statement, [set_to("/predicate/signed_at", "2026-12-01T00:00:00Z")])
	signoff_rejected(future, "signed_at 2026-12-01T00:00:00Z is in the future")
	unreviewed := json.remove(statement, ["predicate/reviewed"])
	[reason] := signoff_rejections(unreviewed)
	startswith(reason, "it names no reviewed evidence")
	moved := json.patch(td.input_for("high"), [set_to("/models/0/evidence/artifact/uri", "s3://scratch/x")])
	rejections := lib.signoff_rejections(statement, lib.models[0]) with input as moved
	rejections == ["the artifact location changed since signing: signed s3://models/credit-scoring/3, now s3://scratch/x"]
}

test_waiver_bound_to_the_artifact_digest if {
	waiver := td.waiver("pii.open_findings")
	zero := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	zeroed := patched(waiver, [
		set_to("/subject_digests", [zero]),
		set_to("/subjects", [{"name": "models:/credit-scoring/3", "digest": zero}]),
	])
	waiver_rejected(zeroed, sprintf("subject digest does not match artifact digest %s", [td.digest]))
	renamed := patched(waiver, [set_to("/subjects", [{"name": "models:/credit-scoring/9", "digest": td.digest}])])
	why := "its subject for %s names models:/credit-scoring/9, not models:/credit-scoring/3"
	waiver_rejected(renamed, sprintf(why, [td.digest]))
}

test_waiver_of_a_never_waivable_requirement_is_rejected if {
	every requirement in ["signoff.role", "signoff.distinct_signers", "classification.mismatch", "evidence.stale"] {
		waiver_rejections(td.waiver(requirement)) == [sprintf("%s can never be waived", [requirement])]
	}
}
