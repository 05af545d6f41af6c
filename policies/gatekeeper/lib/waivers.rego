# Waivers that apply to this evaluation. A valid waiver for requirement R on a model
# version turns that version's R violations into warnings.
package gatekeeper.lib

# METADATA
# description: |
#   Every waiver statement that is valid apart, perhaps, from its expiry, with state
#   "active" or "expired" (statements that fail any other check are ignored).
reviewed_waivers contains review if {
	some ctx in models
	some statement in ctx.waivers
	waiver_rejections(statement, ctx) == []
	predicate := statement.predicate
	state := waiver_state(object.get(predicate, "expires_at", null))
	state != "invalid"
	review := {
		"model": ctx.name,
		"version": ctx.version,
		"requirement": predicate.requirement,
		"source": text(object.get(statement, "source", "")),
		"expires_at": predicate.expires_at,
		"reason": text(object.get(predicate, "reason", "")),
		"state": state,
	}
}

# METADATA
# description: active waivers keyed by [model, version, requirement]
active_waivers[[review.model, review.version, review.requirement]] contains review if {
	some review in reviewed_waivers
	review.state == "active"
}

# METADATA
# description: the waivers that expired; the decision warns about each
expired_waivers contains review if {
	some review in reviewed_waivers
	review.state == "expired"
}

# METADATA
# description: |
#   The waiver that turns violation v into a warning (the one lasting longest when
#   several apply); undefined when v is not waivable or no active waiver covers it.
#   The lookup comes first: most violations have no waiver, and then waivable (the
#   matrix's never-waivable prefixes) need not be evaluated.
waiver_for(v) := max(active_waivers[key]) if {
	key := [v.model, v.version, v.requirement]
	active_waivers[key]
	waivable(v.requirement)
}

# METADATA
# description: |
#   The waivers that do not apply, each with why (a wrong subject digest, a requirement
#   that can never be waived, an untrusted key, ...): the decision warns about each, so
#   a waiver that changes nothing says so.
rejected_waivers contains rejected if {
	some ctx in models
	some statement in ctx.waivers
	reasons := waiver_rejections(statement, ctx)
	reasons != []
	requirement := object.get(as_object(object.get(statement, "predicate", {})), "requirement", null)
	rejected := {
		"model": ctx.name,
		"version": ctx.version,
		"requirement": waiver_requirement_text(requirement),
		"source": text(object.get(statement, "source", "")),
		"reasons": reasons,
	}
}

waiver_requirement_text(requirement) := requirement if {
	filled(requirement)
} else := "waiver"
