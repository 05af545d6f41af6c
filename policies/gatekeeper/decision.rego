# The admission decision for one workload (input document: docs/policy-input.md).
# Each requirement family (package gatekeeper.requirements.<family>) reports
# `violations`; this package gathers those of every family there is (a new module is
# collected by being there), applies waivers and the environment's enforcement action.
package gatekeeper

import data.gatekeeper.expiry
import data.gatekeeper.lib

# METADATA
# title: Admission decision
# description: |
#   The decision document of README "The decision" (without policy_revision, which the gate adds).
#   Defined for any input.
# entrypoint: true
decision := {
	"object": object_ref,
	"environment": environment,
	"operation": operation,
	"enforcement": lib.enforcement,
	"allowed": allowed,
	"models": [{"ref": ctx.ref, "name": ctx.name, "version": ctx.version, "risk_class": ctx.risk_class} |
		some ctx in lib.models
	],
	"checks": [{"model": ctx.name, "version": ctx.version, "families": lib.checked_families(ctx)} |
		some ctx in lib.models
	],
	"violations": open_list,
	"waived": sorted(waived_violations),
	"warnings": array.flatten([
		violation_lines, waived_lines, expired_lines, rejected_waiver_lines,
		sort(expiry.warnings),
	]),
	"expiries": expiries,
}

# The sign-offs and waivers the decision rests on, soonest expiry first.
expiries := [key[3] | some key in sort(keys)] if {
	keys := [[e.expires_at, e.model, e.kind, e] | some e in expiry.statements]
}

# METADATA
# title: Known environments
# description: the names of the environments the requirement matrix knows, sorted
# entrypoint: true
environments := sort(lib.environment_names)

default object_ref := null

object_ref := input.object

default environment := null

environment := input.environment

default operation := null

operation := input.operation

default allowed := false

allowed if lib.enforcement != "deny"

allowed if count(open_violations) == 0

# METADATA
# description: every violation any requirement family reports, whatever its name
raised contains v if {
	violations := data.gatekeeper.requirements[_].violations
	some v in violations
}

open_violations contains v if {
	some v in raised
	not lib.waiver_for(v)
}

waived_violations contains object.union(v, {
	"waiver": waiver.source,
	"waiver_expires_at": waiver.expires_at,
	"waiver_reason": waiver.reason,
}) if {
	some v in raised
	waiver := lib.waiver_for(v)
}

# Violations in a stable order: model, version, requirement, message (then the rest).
# The sort keys are built inline: a key function would be one memoised call per violation.
sorted(violations) := [key[4] | some key in sort(keys)] if {
	keys := [[v.model, v.version, v.requirement, v.message, v] | some v in violations]
}

# The open violations in order, each with the line a person reads about it.
open_list := [object.union(v, {"line": line(v, v.message)}) | some v in sorted(open_violations)]

default violation_lines := []

violation_lines := [v.line | some v in open_list] if lib.enforcement == "warn"

waived_lines := [line(v, sprintf("waived by %s until %s: %s", [v.waiver, v.waiver_expires_at, v.message])) |
	some v in sorted(waived_violations)
]

expired_lines := [line(w, sprintf("waiver at %s expired on %s", [w.source, w.expires_at])) |
	some w in lib.expired_waivers
]

# Waivers that change nothing say why (wrong artifact, a requirement never waivable, ...).
rejected_waiver_lines := sort([line(w, message) |
	some w in lib.rejected_waivers
	message := sprintf("waiver at %s does not apply: %s", [w.source, concat("; ", w.reasons)])
])

# METADATA
# description: |
#   The one place the violation line `[<requirement>] <model>@<version>: <message>` is
#   formatted (README "The decision"). Here, not in Python: waived and expired-waiver warnings are
#   lines too, built from waiver data only the policy sees; Python's denial message
#   reads each violation's `line`. A violation about no model (a namespace label, an object whose
#   model cannot be read) is `[<requirement>] <message>`.
line(v, message) := sprintf("[%s] %s: %s", [v.requirement, lib.model_label(v.model, v.version), message]) if {
	lib.filled(v.model)
} else := sprintf("[%s] %s", [v.requirement, message])
