# Documentation: a model card with the sections the risk class requires.
package gatekeeper.requirements.documentation

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := {"model_card"}

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"documentation.model_card_missing", "documentation.model_card_section"}

# METADATA
# description: the model card is required but absent or unreadable
violations contains v if {
	some ctx in lib.assessed
	is_object(ctx.requirements.model_card)
	message := card_problem(object.get(ctx.evidence, "model_card", null))
	v := lib.violation(ctx, "documentation.model_card_missing", message, null, null)
}

# METADATA
# description: one violation per required section the (readable) model card lacks
violations contains v if {
	some ctx in lib.assessed
	required := ctx.requirements.model_card
	card := ctx.evidence.model_card
	not card_problem(card)
	sections := lib.as_object(object.get(card, "sections", {}))
	some section in lib.as_array(object.get(required, "sections", []))
	not lib.filled(object.get(sections, section, null))
	message := sprintf("model card has no '%s' section (or it is empty)", [section])
	v := lib.violation(ctx, "documentation.model_card_section", message, null, section)
}

card_problem(card) := "the evidence bundle has no model card" if {
	not is_object(card)
} else := sprintf("the model card could not be read: %s", [lib.text(card.error)]) if {
	object.get(card, "error", null) != null
	card.error != ""
}
