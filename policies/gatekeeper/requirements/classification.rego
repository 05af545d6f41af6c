# Classification: which risk class a model is in, and whether that class may be
# admitted at all. Never waivable (see waivers.never_waivable_prefixes).
package gatekeeper.requirements.classification

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"admitted"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"classification.prohibited", "classification.unclassified", "classification.risk_class_invalid"}

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
# description: the evidence must classify the model; the annotation cannot
violations contains v if {
	some ctx in lib.with_evidence
	ctx.risk_class == "unclassified"
	observed := object.get(ctx.evidence, "risk_class", null)
	v := lib.violation(ctx, "classification.unclassified", unclassified_message(observed), observed, null)
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

unclassified_message(null) := concat(" ", [
	"the evidence bundle has no risk_class, so the model is unclassified",
	"(the risk-class annotation can raise a class but cannot classify a model)",
])

unclassified_message(observed) := sprintf(
	"the evidence bundle's risk_class %v is not one of %s",
	[quoted(observed), class_list],
) if {
	observed != null
}

raised_by(ctx) := " (raised by the model-gatekeeper.io/risk-class annotation)" if {
	ctx.declared_risk_class == "prohibited"
	ctx.evidence.risk_class != "prohibited"
} else := ""

quoted(x) := sprintf("'%s'", [x]) if {
	is_string(x)
} else := sprintf("%v", [x])
