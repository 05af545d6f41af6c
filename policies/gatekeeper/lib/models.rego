# One context per model entry of the input: who the model is, its evidence, its
# effective risk class and the requirements that apply to it. Families iterate these
# contexts instead of input.models, so the class and requirements are computed once
# per model.
package gatekeeper.lib

# METADATA
# description: |
#   The risk classes, least to most severe: the one place their order is written
#   (Python reads it through data.gatekeeper.facts).
risk_classes := ["minimal", "limited", "high", "prohibited"]

# METADATA
# description: each risk class's place in risk_classes (higher is more severe)
risk_rank[class] := rank if some rank, class in risk_classes

# METADATA
# description: the classes whose models are checked family by family
assessed_classes := {"minimal", "limited", "high"}

# METADATA
# description: model contexts keyed by the entry's index in input.models
models[i] := model_context(entry) if some i, entry in input.models

# METADATA
# description: |
#   The contexts every family but evidence and classification checks: evidence
#   present and effective class minimal, limited or high.
assessed[i] := ctx if {
	some i, ctx in models
	ctx.risk_class in assessed_classes
}

# METADATA
# description: the contexts whose evidence could be read (any class, unclassified included)
with_evidence[i] := ctx if {
	some i, ctx in models
	ctx.evidence_error == null
}

model_context(entry) := ctx if {
	model := as_object(entry)
	problem := evidence_problem(model)
	evidence := evidence_of(model, problem)
	declared := object.get(model, "declared_risk_class", null)
	registered := register_entry(text(object.get(model, "name", "")))
	class := risk_class_of(registered_class(registered), object.get(evidence, "risk_class", null), declared, problem)
	ctx := {
		"ref": text(object.get(model, "ref", "")),
		"name": text(object.get(model, "name", "")),
		"version": text(object.get(model, "version", "")),
		"declared_risk_class": declared,
		"registered": registered,
		"risk_class": class,
		"evidence_error": problem,
		"evidence": evidence,
		"requirements": requirements_of(class),
		"storage_uri": object.get(model, "storage_uri", null),
		"sections": as_object(object.get(model, "sections", {})),
		"signoffs": as_array(object.get(model, "signoffs", [])),
		"waivers": as_array(object.get(model, "waivers", [])),
	}
}

# METADATA
# description: |
#   Why the model's evidence cannot be used ({"kind", "message"}), or null. The usual
#   case, an evidence object and no evidence_error, is tested first; an entry without
#   either counts as missing evidence.
evidence_problem(model) := null if {
	object.get(model, "evidence_error", null) == null
	is_object(model.evidence)
} else := model.evidence_error if {
	is_object(model.evidence_error)
} else := {"kind": "unreadable", "message": text(model.evidence_error)} if {
	model.evidence_error != null
} else := {"kind": "missing", "message": sprintf("no evidence bundle for %s", [ref_text(model)])}

ref_text(model) := model.ref if {
	filled(model.ref)
} else := "the model entry"

evidence_of(model, null) := model.evidence

evidence_of(_, problem) := {} if problem != null

# METADATA
# scope: document
# description: the effective class; null when the evidence could not be read
risk_class_of(_, _, _, problem) := null if problem != null

risk_class_of(registered, evidence_class, declared, null) := effective_risk_class(registered, evidence_class, declared)

# METADATA
# scope: document
# description: the class the register gives (null when the register does not know the model)
registered_class(null) := null

registered_class(entry) := entry.risk_class if entry != null

# METADATA
# description: |
#   The strictest of the register's class, the evidence's class and the declared
#   (annotation) class. Only the register classifies a model: a model it does not know
#   is "unclassified", whatever the evidence or the annotation says. The evidence and
#   the annotation can only make it stricter (a lower evidence class is
#   classification.mismatch; an invalid declaration, classification.risk_class_invalid).
effective_risk_class(registered, evidence_class, declared) := "unclassified" if {
	not risk_rank[registered]
} else := max_class([registered, evidence_class, declared])

# METADATA
# description: the most severe of the valid classes in a list (others ignored)
max_class(classes) := risk_classes[max({risk_rank[class] | some class in classes})]
