# Signed statements (sign-offs and waivers). Python has verified the signatures
# against data.gatekeeper.signers; these rules check everything else and say, in
# words a person understands, why a statement does not count.
package gatekeeper.lib

signoff_type := "https://model-gatekeeper.io/signoff/v1"

waiver_type := "https://model-gatekeeper.io/waiver/v1"

statement_kinds := {signoff_type: "sign-off", waiver_type: "waiver"}

# METADATA
# scope: document
# description: the trusted signers (data.gatekeeper.signers.signers)
default signers := []

signers := data.gatekeeper.signers.signers if is_array(data.gatekeeper.signers.signers)

# METADATA
# description: keyid -> the set of signers holding that key (normally exactly one)
key_owners[keyid] contains signer if {
	some signer in signers
	is_array(signer.keys)
	some key in signer.keys
	keyid := key.keyid
}

# METADATA
# description: the current time, from input.now (the policy never reads the clock)
now_ns := time.parse_rfc3339_ns(input.now)

# METADATA
# description: |
#   Why a sign-off statement does not count for the model of ctx, in order; [] when
#   it is valid. Each *_problem check below gives at most one reason and is undefined
#   when the statement passes it: most statements pass every check, and a check that
#   does not apply costs OPA less than one returning [] (nothing to memoise or build).
signoff_rejections(statement, ctx) := array.flatten([
	[reason | reason := signature_problem(envelope, signoff_type)],
	[reason | reason := key_problem(envelope, claimed.signer, signer)],
	[reason | reason := role_problem(claimed, signer, ctx)],
	[reason | reason := subject_problem(claimed, ctx)],
	[reason | reason := digest_problem(envelope, ctx)],
	[reason | reason := subject_name_problem(envelope, ctx)],
	[reason | reason := expiry_problem(claimed.expires_at)],
	[reason | reason := validity_problem(claimed)],
	[reason | reason := review_problem(claimed, ctx)],
]) if {
	envelope := as_object(statement)
	claimed := predicate_of(envelope, {
		"signer": null, "role": null, "model": null, "version": null,
		"signed_at": null, "expires_at": null, "reviewed": null,
	})
	signer := key_signer(envelope, claimed.signer)
}

# METADATA
# description: |
#   Why a waiver statement does not count for the model of ctx, expiry aside (see
#   waiver_state); [] when it is otherwise valid. Checks as for sign-offs.
waiver_rejections(statement, ctx) := array.flatten([
	[reason | reason := signature_problem(envelope, waiver_type)],
	[reason | reason := key_problem(envelope, claimed.approver, signer)],
	[reason | reason := approver_problem(signer)],
	[reason | reason := waived_model_problem(claimed, ctx)],
	[reason | reason := waived_requirement_problem(claimed.requirement)],
	[reason | reason := digest_problem(envelope, ctx)],
	[reason | reason := subject_name_problem(envelope, ctx)],
]) if {
	envelope := as_object(statement)
	claimed := predicate_of(envelope, {
		"approver": null, "model": null, "versions": null, "requirement": null,
		"expires_at": null,
	})
	signer := key_signer(envelope, claimed.approver)
}

# METADATA
# description: the statement's predicate, with the fields (an object of nulls) null where it has none
predicate_of(envelope, fields) := object.union(fields, envelope.predicate) if {
	is_object(envelope.predicate)
} else := fields

signature_problem(envelope, expected_type) := signature_error(envelope) if {
	object.get(envelope, "signature_valid", false) != true
} else := sprintf("not a %s statement (predicate type %s)", [statement_kinds[expected_type], text(predicate_type)]) if {
	predicate_type := object.get(envelope, "predicate_type", null)
	predicate_type != expected_type
}

signature_error(envelope) := sprintf("signature not valid: %s", [envelope.error]) if {
	filled(envelope.error)
} else := "signature not valid"

# A statement whose key and name match a trusted signer (signer is not null) passes.
key_problem(envelope, claimed_name, null) := sprintf("key %s is not trusted", [text(keyid)]) if {
	keyid := object.get(envelope, "keyid", null)
	not key_owners[keyid]
} else := sprintf("signed by %s but key belongs to %s", [text(claimed_name), names]) if {
	names := concat(", ", sort([owner.name | some owner in key_owners[envelope.keyid]]))
}

# METADATA
# description: |
#   The trusted signer holding the statement's key and named claimed_name, or null.
#   Looked up by name among the signers, so a valid statement never needs key_owners
#   (which scans every signer's keys; key_problem uses it to explain a mismatch).
key_signer(envelope, claimed_name) := matches[0] if {
	matches := sort({signer |
		some signer in signers
		signer.name == claimed_name
		is_array(signer.keys)
		some key in signer.keys
		key.keyid == envelope.keyid
	})
} else := null

# Role "owner" is held by the owner the evidence names; other roles are granted in
# signers.yaml. (The key problem already says why a statement without a signer does
# not count.)
role_problem(claimed, signer, ctx) := sprintf("role 'owner' not granted: %s is not the model owner (%s)", [
	text(claimed.signer),
	text(object.get(ctx.evidence, "owner", "none named")),
]) if {
	signer != null
	claimed.role == "owner"
	claimed.signer != object.get(ctx.evidence, "owner", null)
} else := sprintf("role '%s' not granted to %s", [text(claimed.role), text(claimed.signer)]) if {
	signer != null
	claimed.role != "owner"
	not claimed.role in as_array(object.get(signer, "roles", []))
}

subject_problem(claimed, ctx) := sprintf("statement is for %s@%s", [text(claimed.model), text(claimed.version)]) if {
	[claimed.model, claimed.version] != [ctx.name, ctx.version] # the common match, without text()
	[claimed.model, text(claimed.version)] != [ctx.name, ctx.version] # a version may be a number
}

digest_problem(envelope, ctx) := "the evidence names no artifact digest to bind the sign-off to" if {
	not filled(artifact_digest(ctx))
} else := sprintf("subject digest does not match artifact digest %s", [digest]) if {
	digest := artifact_digest(ctx)
	not digest in as_array(object.get(envelope, "subject_digests", []))
}

# METADATA
# description: |
#   The subject bound to the artifact digest must name the model version it is used
#   for (models:/<name>/<version>): a statement about another model whose artifact
#   happens to be the same file does not count. Statements made before subjects were
#   listed by name (no subjects) are judged by digest alone.
subject_name_problem(envelope, ctx) := sprintf("its subject for %s names %s, not %s", [digest, listed, ref]) if {
	digest := artifact_digest(ctx)
	ref := sprintf("models:/%s/%s", [ctx.name, ctx.version])
	names := [subject.name |
		some subject in as_array(object.get(envelope, "subjects", []))
		subject.digest == digest
	]
	count(names) > 0
	not ref in names
	listed := concat(", ", names)
}

# METADATA
# description: the artifact digest the evidence of ctx names (null when none)
artifact_digest(ctx) := object.get(ctx.evidence, ["artifact", "digest"], null)

# METADATA
# description: why a statement's expiry does not allow it now; undefined while it is in force
expiry_problem(expires_at) := "cannot check expiry: input.now is missing or not an RFC3339 time" if {
	not now_ns
} else := sprintf("expiry %s is not an RFC3339 time", [text(expires_at)]) if {
	not expiry_ns(expires_at)
} else := sprintf("expired on %s", [expires_at]) if {
	expiry_ns(expires_at) <= now_ns
}

expiry_ns(expires_at) := time.parse_rfc3339_ns(expires_at) if is_string(expires_at)

approver_problem(signer) := sprintf("%s may not approve waivers (approver roles: %s)", [signer.name, roles]) if {
	signer != null
	held := {role | some role in as_array(object.get(signer, "roles", []))}
	count(held & approver_roles) == 0
	roles := concat(", ", sort(approver_roles))
}

waived_model_problem(claimed, ctx) := sprintf("waiver is for model %s", [text(claimed.model)]) if {
	claimed.model != ctx.name
} else := sprintf("waiver does not cover version %s (versions: %s)", [ctx.version, versions]) if {
	covered := [text(version) | some version in as_array(claimed.versions)]
	not ctx.version in covered
	versions := concat(", ", covered)
}

waived_requirement_problem(requirement) := "waiver names no requirement" if {
	not filled(requirement)
} else := sprintf("%s can never be waived", [requirement]) if {
	not waivable(requirement)
}

# METADATA
# description: active | expired | invalid (no usable expiry, or no usable input.now)
waiver_state(expires_at) := "active" if {
	not expiry_problem(expires_at)
} else := "expired" if {
	expiry_ns(expires_at) <= now_ns
} else := "invalid"
