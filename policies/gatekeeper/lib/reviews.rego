# What a sign-off covers and how long it may last, per role (the matrix's
# signoff_roles): a signer signs the artifact digest (the statement's subject), the
# artifact location and the digest of each evidence section the role reviews. An
# edit of any of them after signing voids the sign-off, naming what changed.
package gatekeeper.lib

# METADATA
# description: the settings of every role the matrix names, each over the defaults
signoff_role_settings[role] := signoff_role(role) if {
	some role, _ in as_object(object.get(matrix, "signoff_roles", {}))
}

# METADATA
# description: |
#   One role's settings: signoff_roles.default, overlaid with the role's own entry.
#   reviews (a list of sections) or reviews_all_but (every section but these), and
#   max_validity_days.
signoff_role(role) := object.union(defaults, own) if {
	roles := as_object(object.get(matrix, "signoff_roles", {}))
	defaults := as_object(object.get(roles, "default", {}))
	own := as_object(object.get(roles, role, {}))
}

# METADATA
# description: the sections of ctx's evidence a sign-off in role must cover
reviewed_sections(role, ctx) := [name |
	some name in signoff_role(role).reviews
	ctx.sections[name]
] if {
	is_array(signoff_role(role).reviews)
} else := [name |
	some name, _ in ctx.sections
	not name in as_array(object.get(signoff_role(role), "reviews_all_but", []))
]

# METADATA
# description: |
#   Why a sign-off no longer covers the evidence as it is (at most one reason), or
#   undefined: the artifact location moved, a reviewed section changed, or the
#   statement does not cover a section the role reviews.
review_problem(claimed, ctx) := concat("", [
	"it names no reviewed evidence (made before sign-offs covered the evidence sections): ",
	"sign it again with gatekeeper signoff create",
]) if {
	not is_object(claimed.reviewed)
} else := sprintf("the artifact location changed since signing: signed %s, now %s", [signed_uri, uri]) if {
	signed_uri := object.get(claimed.reviewed, "artifact_uri", null)
	uri := object.get(ctx.evidence, ["artifact", "uri"], null)
	signed_uri != uri
} else := sprintf("evidence changed since signing: %s (ask for a new sign-off)", [concat(", ", changed)]) if {
	signed := as_object(object.get(claimed.reviewed, "sections", {}))
	changed := [name |
		some name in reviewed_sections(claimed.role, ctx)
		signed[name]
		signed[name] != ctx.sections[name]
	]
	count(changed) > 0
} else := sprintf(
	"it does not cover %s, which the %s role reviews (ask for a new sign-off)",
	[concat(", ", missing), claimed.role],
) if {
	signed := as_object(object.get(claimed.reviewed, "sections", {}))
	missing := [name |
		some name in reviewed_sections(claimed.role, ctx)
		not signed[name]
	]
	count(missing) > 0
}

# METADATA
# description: |
#   Why a sign-off's validity is not acceptable, or undefined: no usable signed_at, a
#   signed_at in the future (beyond clock_skew_ns), or a validity longer than the
#   role's max_validity_days.
validity_problem(claimed) := sprintf("signed_at %s is not an RFC3339 time", [text(claimed.signed_at)]) if {
	not time_ns(claimed.signed_at)
} else := sprintf("signed_at %s is in the future", [claimed.signed_at]) if {
	time_ns(claimed.signed_at) > now_ns + clock_skew_ns
} else := sprintf(
	"valid for %d days from signing; a %s sign-off may be valid for at most %d days",
	[days, claimed.role, limit],
) if {
	limit := signoff_role(claimed.role).max_validity_days
	is_number(limit)
	days := ceil((time_ns(claimed.expires_at) - time_ns(claimed.signed_at)) / day_ns)
	days > limit
}

# METADATA
# description: how far a signing time may be ahead of input.now (clocks differ), 5 minutes
clock_skew_ns := (5 * 60) * 1000000000

day_ns := ((24 * 60) * 60) * 1000000000

time_ns(value) := time.parse_rfc3339_ns(value) if is_string(value)
