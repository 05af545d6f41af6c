# PII: the training data was scanned for personal data and few enough findings remain open.
package gatekeeper.requirements.pii

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"pii"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"pii.scan_missing", "pii.open_findings"}

# METADATA
# description: the class requires a PII scan and the evidence has none (or no finding count)
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.pii)
	not is_number(object.get(ctx.evidence, ["pii_scan", "open_findings"], null))
	message := "the evidence has no PII scan of the training data (pii_scan.open_findings)"
	v := lib.violation(ctx, "pii.scan_missing", message, null, null)
}

# METADATA
# description: more open findings than the class allows
violations contains v if {
	some ctx in lib.assessed
	allowed := ctx.requirements.pii.max_open_findings
	found := ctx.evidence.pii_scan.open_findings
	is_number(found)
	found > allowed
	message := sprintf("the PII scan has %s open findings, above %s%s", [
		lib.number_text(found), lib.number_text(allowed),
		entities_text(ctx.evidence.pii_scan),
	])
	v := lib.violation(ctx, "pii.open_findings", message, found, allowed)
}

# METADATA
# description: Presidio's counts per entity type after the message, e.g. (EMAIL_ADDRESS 2) (empty without counts)
entities_text(scan) := sprintf(" (%s)", [concat(", ", counts)]) if {
	entities := lib.as_object(object.get(scan, "entities", {}))
	counts := [sprintf("%s %s", [name, lib.number_text(n)]) | some name, n in entities; n > 0]
	count(counts) > 0
} else := ""
