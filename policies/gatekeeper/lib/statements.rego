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
	some key in as_array(object.get(as_object(signer), "keys", []))
	keyid := key.keyid
}

# METADATA
# description: the current time, from input.now (the policy never reads the clock)
now_ns := time.parse_rfc3339_ns(input.now)

# METADATA
# description: |
#   Why a sign-off statement does not count for the model of ctx, in order; [] when
#   it is valid.
signoff_rejections(statement, ctx) := array.flatten([
	signature_problems(envelope, signoff_type),
	key_problems(envelope, claimed.signer),
	role_problems(claimed, key_signer(envelope, claimed.signer), ctx),
	subject_problems(claimed, ctx),
	digest_problems(envelope, ctx),
	expiry_problems(claimed.expires_at),
]) if {
	envelope := as_object(statement)
	claimed := predicate_of(envelope, ["signer", "role", "model", "version", "expires_at"])
}

# METADATA
# description: |
#   Why a waiver statement does not count for the model of ctx, expiry aside (see
#   waiver_state); [] when it is otherwise valid.
waiver_rejections(statement, ctx) := array.flatten([
	signature_problems(envelope, waiver_type),
	key_problems(envelope, claimed.approver),
	approver_problems(key_signer(envelope, claimed.approver)),
	waived_model_problems(claimed, ctx),
	waived_requirement_problems(claimed.requirement),
]) if {
	envelope := as_object(statement)
	claimed := predicate_of(envelope, ["approver", "model", "versions", "requirement", "expires_at"])
}

# METADATA
# description: the statement's predicate, with the named fields null when absent
predicate_of(envelope, fields) := object.union(
	{field: null | some field in fields},
	as_object(object.get(envelope, "predicate", {})),
)

signature_problems(envelope, expected_type) := [signature_error(envelope)] if {
	object.get(envelope, "signature_valid", false) != true
} else := [sprintf("not a %s statement (predicate type %s)", [statement_kinds[expected_type], type_text])] if {
	type_text := text(object.get(envelope, "predicate_type", null))
	type_text != expected_type
} else := []

signature_error(envelope) := sprintf("signature not valid: %s", [envelope.error]) if {
	filled(envelope.error)
} else := "signature not valid"

key_problems(envelope, claimed_name) := [sprintf("key %s is not trusted", [text(keyid)])] if {
	keyid := object.get(envelope, "keyid", null)
	not key_owners[keyid]
} else := [sprintf("signed by %s but key belongs to %s", [text(claimed_name), names])] if {
	key_signer(envelope, claimed_name) == null
	names := concat(", ", sort([owner.name | some owner in key_owners[envelope.keyid]]))
} else := []

# METADATA
# description: the trusted signer holding the statement's key and named claimed_name, or null
key_signer(envelope, claimed_name) := matches[0] if {
	matches := [signer | some signer in key_owners[envelope.keyid]; signer.name == claimed_name]
} else := null

# the key problem already says why a statement without a signer does not count
role_problems(_, null, _) := []

role_problems(claimed, signer, ctx) := role_grant_problems(claimed, signer, ctx) if signer != null

role_grant_problems(claimed, signer, ctx) := [] if {
	claimed.role == "owner"
	claimed.signer == object.get(ctx.evidence, "owner", null)
} else := [sprintf("role 'owner' not granted: %s is not the model owner (%s)", [text(claimed.signer), owner])] if {
	claimed.role == "owner"
	owner := text(object.get(ctx.evidence, "owner", "none named"))
} else := [] if {
	claimed.role in as_array(object.get(signer, "roles", []))
} else := [sprintf("role '%s' not granted to %s", [text(claimed.role), text(claimed.signer)])]

subject_problems(claimed, ctx) := [] if {
	claimed.model == ctx.name
	text(claimed.version) == ctx.version
} else := [sprintf("statement is for %s@%s", [text(claimed.model), text(claimed.version)])]

digest_problems(envelope, ctx) := [] if {
	digest := artifact_digest(ctx)
	filled(digest)
	digest in as_array(object.get(envelope, "subject_digests", []))
} else := [sprintf("subject digest does not match artifact digest %s", [digest])] if {
	digest := artifact_digest(ctx)
	filled(digest)
} else := ["the evidence names no artifact digest to bind the sign-off to"]

# METADATA
# description: the artifact digest the evidence of ctx names (null when none)
artifact_digest(ctx) := object.get(ctx.evidence, ["artifact", "digest"], null)

# METADATA
# description: why a statement's expiry does not allow it now; [] when it is still in force
expiry_problems(expires_at) := ["cannot check expiry: input.now is missing or not an RFC3339 time"] if {
	not now_ns
} else := [sprintf("expiry %s is not an RFC3339 time", [text(expires_at)])] if {
	not expiry_ns(expires_at)
} else := [sprintf("expired on %s", [expires_at])] if {
	expiry_ns(expires_at) <= now_ns
} else := []

expiry_ns(expires_at) := time.parse_rfc3339_ns(expires_at) if is_string(expires_at)

approver_problems(null) := []

approver_problems(signer) := [] if {
	some role in as_array(object.get(signer, "roles", []))
	role in approver_roles
} else := [sprintf("%s may not approve waivers (approver roles: %s)", [signer.name, roles])] if {
	signer != null
	roles := concat(", ", sort(approver_roles))
}

waived_model_problems(claimed, ctx) := [sprintf("waiver is for model %s", [text(claimed.model)])] if {
	claimed.model != ctx.name
} else := [sprintf("waiver does not cover version %s (versions: %s)", [ctx.version, versions])] if {
	covered := [text(version) | some version in as_array(claimed.versions)]
	not ctx.version in covered
	versions := concat(", ", covered)
} else := []

waived_requirement_problems(requirement) := [] if {
	filled(requirement)
} else := ["waiver names no requirement"]

# METADATA
# description: active | expired | invalid (no usable expiry, or no usable input.now)
waiver_state(expires_at) := "active" if {
	expiry_problems(expires_at) == []
} else := "expired" if {
	expiry_ns(expires_at) <= now_ns
} else := "invalid"
