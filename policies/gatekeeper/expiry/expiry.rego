# Expiry: when the sign-offs, waivers and time-limited evidence a decision rests on
# run out. The decision lists them (the background auditor schedules a re-judgement and a gauge on each) and
# warns about those expiring within the class's expiry_warning_days, so the owner has
# time to renew them before the model falls out of compliance.
package gatekeeper.expiry

import data.gatekeeper.lib
import data.gatekeeper.requirements.staleness

# METADATA
# description: the settings of a risk class in the requirement matrix this mechanism reads
reads := {"expiry_warning_days"}

day_ns := ((24 * 60) * 60) * 1000000000

# METADATA
# scope: document
# description: |
#   The sign-offs that count for a required role, and the active waivers, of the models
#   at hand: {kind, model, version, name (role or requirement), requirement, source,
#   expires_at}. requirement is what fails when the statement expires.
statements contains entry if {
	some i, reviews in data.gatekeeper.requirements.signoff.reviews
	ctx := lib.assessed[i]
	roles := lib.as_array(ctx.requirements.signoffs.roles)
	some review in reviews
	review.rejections == []
	predicate := review.statement.predicate
	predicate.role in roles
	entry := {
		"kind": "signoff", "model": ctx.name, "version": ctx.version,
		"name": predicate.role, "requirement": "signoff.role",
		"source": lib.text(object.get(review.statement, "source", "")),
		"expires_at": predicate.expires_at,
	}
}

# Evidence the class limits in age (max_evidence_age_days), still fresh: it goes stale
# (evidence.stale) at its time plus the limit. Stale or undated evidence is a violation already.
statements contains entry if {
	some i, entries in staleness.dated
	ctx := lib.assessed[i]
	some [name, path, stamp, days] in entries
	stale_ns := staleness.stale_at_ns(stamp, days)
	stale_ns > lib.now_ns
	entry := {
		"kind": "evidence", "model": ctx.name, "version": ctx.version,
		"name": name, "requirement": "evidence.stale",
		"source": path, "expires_at": time.format(stale_ns),
	}
}

statements contains entry if {
	some keyed in lib.active_waivers
	some review in keyed
	entry := {
		"kind": "waiver", "model": review.model, "version": review.version,
		"name": review.requirement, "requirement": review.requirement,
		"source": review.source, "expires_at": review.expires_at,
	}
}

# METADATA
# description: |
#   One line per statement expiring within its model's expiry_warning_days, in the
#   decision's line format; the requirement named is the one that will fail.
warnings contains sprintf("[%s] %s@%s: %s %s expires in %s (%s)", [
	entry.requirement, entry.model, entry.version,
	entry.name, noun[entry.kind], left, entry.expires_at,
]) if {
	some entry in statements
	days := warning_days(entry.model, entry.version)
	remaining := time.parse_rfc3339_ns(entry.expires_at) - lib.now_ns
	remaining <= days * day_ns
	left := remaining_text(remaining)
}

noun := {"signoff": "sign-off", "waiver": "waiver", "evidence": "result"}

# the expiry_warning_days of a model version's class (undefined when not set)
warning_days(model, version) := days if {
	some ctx in lib.assessed
	ctx.name == model
	ctx.version == version
	days := ctx.requirements.expiry_warning_days
	is_number(days)
}

remaining_text(ns) := "less than a day" if {
	ns < day_ns
} else := "1 day" if {
	ns < 2 * day_ns
} else := sprintf("%d days", [floor(ns / day_ns)])
