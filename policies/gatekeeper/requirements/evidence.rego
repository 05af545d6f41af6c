# Evidence: the gate could name the model and read its evidence bundle.
package gatekeeper.requirements.evidence

import data.gatekeeper.lib
import data.gatekeeper.requirements.staleness

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := set()

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"evidence.model_reference", "evidence.unavailable"} | {concat(".", ["evidence", kind]) |
	some kind in error_kinds
}

error_kinds := {"missing", "unreadable", "unavailable", "mismatch"}

# METADATA
# description: each reference error (the workload does not say which model it serves)
violations contains v if {
	some problem in lib.as_array(object.get(lib.as_object(input), "reference_errors", []))
	v := lib.violation({"name": "", "version": ""}, "evidence.model_reference", reference_message(problem), null, null)
}

# METADATA
# description: a model whose evidence could not be used
violations contains v if {
	some ctx in lib.models
	problem := ctx.evidence_error
	problem != null
	v := lib.violation(ctx, requirement(object.get(problem, "kind", null)), error_message(problem), null, null)
}

# METADATA
# description: |
#   A measured time later than now plus the allowed clock skew: evidence dated in the
#   future would never go stale, so it is refused as unreadable. The time checked
#   against is input.now (the decision's time; `check --at` sets it).
violations contains v if {
	some ctx in lib.with_evidence
	some [path, stamp] in measured_times(ctx.evidence)
	ahead := time.parse_rfc3339_ns(stamp) - lib.now_ns
	ahead > clock_skew_seconds * 1000000000
	message := sprintf("%s %s is later than now (%s) plus the allowed clock skew of %s seconds: %s", [
		path, stamp, input.now, lib.number_text(clock_skew_seconds),
		"a measurement cannot be dated in the future",
	])
	v := lib.violation(ctx, "evidence.unreadable", message, stamp, input.now)
}

requirement(kind) := concat(".", ["evidence", kind]) if {
	kind in error_kinds
} else := "evidence.unavailable"

error_message(problem) := problem.message if {
	lib.filled(problem.message)
} else := sprintf("evidence error (%s)", [lib.text(object.get(problem, "kind", "unknown"))])

reference_message(problem) := problem.message if {
	lib.filled(problem.message)
} else := lib.text(problem) if {
	lib.filled(problem)
} else := "the workload does not name the model it serves"

# METADATA
# scope: document
# description: |
#   How far ahead of input.now a measured time may be (clocks of the machines that
#   measured and that decide differ a little): evidence.clock_skew_seconds of the matrix.
default clock_skew_seconds := 300

clock_skew_seconds := seconds if {
	seconds := lib.matrix.evidence.clock_skew_seconds
	is_number(seconds)
}

# METADATA
# description: the [path, time] of each measured section's time stamp that parses
measured_times(evidence) := sections(evidence) | fairness_times(evidence)

sections(evidence) := {[path, stamp] |
	some section, field in staleness.timestamp_fields
	stamp := lib.as_object(object.get(evidence, section, {}))[field]
	time.parse_rfc3339_ns(stamp)
	path := concat(".", [section, field])
}

fairness_times(evidence) := {[path, stamp] |
	some attribute, results in lib.as_object(object.get(evidence, "fairness", {}))
	stamp := lib.as_object(results).evaluated_at
	time.parse_rfc3339_ns(stamp)
	path := sprintf("fairness.%s.evaluated_at", [attribute])
}
