# Classification: which risk class a model is in, and whether that class may be
# admitted at all. Never waivable (see waivers.never_waivable_prefixes).
package gatekeeper.requirements.classification

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"admitted"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {
	"classification.prohibited", "classification.unclassified",
	"classification.risk_class_invalid", "classification.mismatch",
}

# METADATA
# description: prohibited models are never admitted, whatever the matrix or a waiver says
violations contains v if {
	some ctx in lib.with_evidence
	ctx.risk_class == "prohibited"
	message := sprintf("risk class is prohibited%s: models of this class are never admitted", [raised_by(ctx)])
	v := lib.violation(ctx, "classification.prohibited", message, "prohibited", null)
}

# METADATA
# description: |
#   A class whose matrix entry says admitted: false is refused too (the
#   classification.prohibited requirement, since the effect is the same).
violations contains v if {
	some ctx in lib.assessed
	ctx.requirements.admitted == false
	message := sprintf("risk class %s is not admitted in this environment", [ctx.risk_class])
	v := lib.violation(ctx, "classification.prohibited", message, ctx.risk_class, null)
}

# METADATA
# description: |
#   Only the compliance team's classification register classifies a model: one it does
#   not know is unclassified, whatever the evidence or the annotation says.
violations contains v if {
	some ctx in lib.with_evidence
	ctx.risk_class == "unclassified"
	observed := object.get(ctx.evidence, "risk_class", null)
	v := lib.violation(ctx, "classification.unclassified", unclassified_message(ctx.name, observed), observed, null)
}

# METADATA
# description: |
#   The evidence may repeat the register's class or be stricter, never lower. The
#   model is judged at the register's class all the same.
violations contains v if {
	some ctx in lib.with_evidence
	entry := ctx.registered
	entry != null
	claimed := ctx.evidence.risk_class
	lib.risk_rank[claimed] < lib.risk_rank[entry.risk_class]
	message := sprintf(
		"the evidence says risk_class %s, but the classification register classifies %s as %s (%s); %s",
		[claimed, ctx.name, entry.risk_class, decided(entry), never_lower],
	)
	v := lib.violation(ctx, "classification.mismatch", message, claimed, entry.risk_class)
}

# METADATA
# description: the risk-class annotation must name one of the four classes
violations contains v if {
	some ctx in lib.with_evidence
	declared := ctx.declared_risk_class
	declared != null
	not declared in object.keys(lib.risk_rank)
	message := sprintf(
		"annotation model-gatekeeper.io/risk-class is %v, not one of %s",
		[quoted(declared), class_list],
	)
	v := lib.violation(ctx, "classification.risk_class_invalid", message, declared, lib.risk_classes)
}

class_list := concat(", ", lib.risk_classes)

unclassified_message(name, observed) := sprintf(
	"%s is not in the classification register, so it is unclassified (%s; %s)",
	[name, claimed_text(observed), "only the compliance team's register classifies a model"],
)

claimed_text(null) := "the evidence names no risk_class"

claimed_text(observed) := sprintf("the evidence says %v", [quoted(observed)]) if observed != null

never_lower := "a bundle may repeat the register's class or be stricter, never lower"

decided(entry) := sprintf("decided by %s on %s", [
	lib.text(object.get(entry, "decided_by", "an unnamed decider")),
	lib.text(object.get(entry, "decided_at", "an unstated date")),
])

raised_by(ctx) := " (raised by the model-gatekeeper.io/risk-class annotation)" if {
	ctx.declared_risk_class == "prohibited"
	ctx.evidence.risk_class != "prohibited"
	ctx.registered.risk_class != "prohibited"
} else := ""

quoted(x) := sprintf("'%s'", [x]) if {
	is_string(x)
} else := sprintf("%v", [x])
