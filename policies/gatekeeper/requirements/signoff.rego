# Sign-offs: the people the risk class requires have signed this model version off.
package gatekeeper.requirements.signoff

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"signoffs"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"signoff.role", "signoff.distinct_signers"}

# METADATA
# description: |
#   Each sign-off of a model that needs sign-offs, with why it does not count
#   ([] when it does). Computed once per model.
reviews[i] := [{"statement": statement, "rejections": lib.signoff_rejections(statement, ctx)} |
	some statement in ctx.signoffs
] if {
	some i, ctx in lib.assessed
	is_object(ctx.requirements.signoffs)
}

# METADATA
# description: required roles without a valid sign-off, per model, with the claims made for each
missing_roles[i][role] := claims if {
	some i, ctx in lib.assessed
	some role in lib.as_array(ctx.requirements.signoffs.roles)
	claims := [review | some review in reviews[i]; review.statement.predicate.role == role]
	not valid_claim(claims)
}

# METADATA
# description: one violation per required role without a valid sign-off
violations contains v if {
	some i, claims_by_role in missing_roles
	some role, claims in claims_by_role
	message := sprintf("no valid sign-off for role '%s' (%s)", [role, why(claims)])
	v := lib.violation(lib.assessed[i], "signoff.role", message, null, role)
}

# METADATA
# description: |
#   Every required role is covered, but by fewer distinct people than required
#   (a missing role is reported as such, not twice).
violations contains v if {
	some i, ctx in lib.assessed
	not missing_roles[i]
	required := ctx.requirements.signoffs.min_distinct_signers
	roles := lib.as_array(object.get(ctx.requirements.signoffs, "roles", []))
	people := {review.statement.predicate.signer |
		some review in reviews[i]
		review.rejections == []
		review.statement.predicate.role in roles
	}
	count(people) < required
	found := sprintf("%d distinct people signed off (%s)", [count(people), names(people)])
	message := sprintf("%s, %s required", [found, lib.number_text(required)])
	v := lib.violation(ctx, "signoff.distinct_signers", message, count(people), required)
}

valid_claim(claims) if {
	some review in claims
	review.rejections == []
}

why(claims) := "no sign-off claims this role" if {
	count(claims) == 0
} else := concat("; ", [explanation |
	some review in claims
	source := lib.text(object.get(review.statement, "source", "(unnamed statement)"))
	explanation := sprintf("%s: %s", [source, concat(", ", review.rejections)])
])

names(people) := "nobody" if {
	count(people) == 0
} else := concat(", ", sort(people))
