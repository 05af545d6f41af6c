# Staleness: time-stamped evidence is no older than the risk class allows
# (max_evidence_age_days in the matrix, per evidence section). A scan or evaluation
# from long ago says little about the data the model serves today.
package gatekeeper.requirements.staleness

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"max_evidence_age_days"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"evidence.stale"}

# METADATA
# description: the prefix of the IDs it raises, which is not the family's name
prefix := "evidence"

day_ns := ((24 * 60) * 60) * 1000000000

# METADATA
# description: evidence section -> the field holding when it was produced
timestamp_fields := {
	"pii_scan": "scanned_at",
	"data_quality": "evaluated_at",
	"drift": "evaluated_at",
}

# METADATA
# scope: document
# description: |
#   Per model, the time-stamped evidence the class limits: [name, path, stamp, max days].
#   name is the section (fairness results are dated per attribute: fairness.<attribute>).
#   A section the class limits but whose stamp is missing is kept (stamp null): its age
#   cannot be known, so it cannot be shown to be fresh (fail closed).
dated[i] contains [section, path, stamp, days] if {
	some i, ctx in lib.assessed
	some section, days in limits(ctx)
	field := timestamp_fields[section]
	is_object(ctx.evidence[section])
	path := concat(".", [section, field])
	stamp := object.get(ctx.evidence[section], field, null)
}

dated[i] contains [name, path, stamp, days] if {
	some i, ctx in lib.assessed
	days := limits(ctx).fairness
	some attribute, results in lib.as_object(object.get(ctx.evidence, "fairness", {}))
	stamp := object.get(lib.as_object(results), "evaluated_at", null)
	name := sprintf("fairness.%s", [attribute])
	path := concat(".", [name, "evaluated_at"])
}

# METADATA
# description: when a dated result goes stale (ns since the epoch); undefined without a valid stamp
stale_at_ns(stamp, days) := time.parse_rfc3339_ns(stamp) + round(days * day_ns)

# Only numbers limit an age: null (as an override sets it) or a missing section is off.
limits(ctx) := {section: days |
	some section, days in lib.as_object(object.get(ctx.requirements, "max_evidence_age_days", {}))
	is_number(days)
}

# METADATA
# description: evidence older than the class allows, or whose age cannot be told
violations contains v if {
	some i, entries in dated
	some [_, path, stamp, days] in entries
	[message, age] := problem(path, stamp, days)
	v := lib.violation(lib.assessed[i], "evidence.stale", message, age, days)
}

# METADATA
# description: |
#   A gate serving a matrix that still sets the retired drift.max_age_days (nobody ran
#   `gatekeeper policy test`) must not drop that limit silently: the models it applies to
#   fail closed, with what to set instead.
violations contains v if {
	some ctx in lib.assessed
	"max_age_days" in object.keys(lib.as_object(object.get(ctx.requirements, "drift", {})))
	message := concat("", [
		"the requirement matrix sets drift.max_age_days, which is no longer read: ",
		"set max_evidence_age_days.drift (days) instead",
	])
	v := lib.violation(ctx, "evidence.stale", message, null, null)
}

problem(path, stamp, days) := [sprintf("%s is missing, so its age cannot be checked", [path]), null] if {
	not lib.filled(stamp)
} else := [sprintf("%s %s is not an RFC3339 time", [path, lib.text(stamp)]), null] if {
	not time.parse_rfc3339_ns(stamp)
} else := [sprintf("cannot check the age of %s: input.now is missing or not an RFC3339 time", [path]), null] if {
	not lib.now_ns
} else := [message, age] if {
	age_ns := lib.now_ns - time.parse_rfc3339_ns(stamp)
	age_ns > days * day_ns

	# in tenths of a day, rounded up, so an age just past the limit never reads as the limit
	tenths := ceil((age_ns * 10) / day_ns)
	age := tenths / 10
	allowed := lib.number_text(days)
	text := sprintf("%d.%d", [floor(tenths / 10), tenths % 10])
	message := sprintf("%s is %s days old (%s), above the %s days the class allows", [path, text, stamp, allowed])
}

# METADATA
# description: |
#   Matrix settings no longer read, one line each naming what to set instead.
#   drift.max_age_days was a second limit on the drift result's age; the age of all
#   time-stamped evidence is limited here, by max_evidence_age_days. A matrix still
#   setting it would silently lose that limit, so `gatekeeper policy test` fails on it.
retired_settings contains message if {
	some where in drift_age_set
	message := sprintf("%s.drift.max_age_days is no longer read: set %s.max_evidence_age_days.drift (days) instead", [
		where,
		where,
	])
}

# The places (risk_classes.<class>, overrides.<environment>.<class>) whose drift family sets max_age_days.
drift_age_set contains sprintf("risk_classes.%s", [class]) if {
	some class, spec in lib.as_object(object.get(lib.matrix, "risk_classes", {}))
	sets_drift_age(spec)
}

drift_age_set contains sprintf("overrides.%s.%s", [environment, class]) if {
	some environment, classes in lib.as_object(object.get(lib.matrix, "overrides", {}))
	some class, spec in lib.as_object(classes)
	sets_drift_age(spec)
}

sets_drift_age(spec) if "max_age_days" in object.keys(lib.as_object(object.get(lib.as_object(spec), "drift", {})))
