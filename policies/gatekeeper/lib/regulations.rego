# The regulation map (data.gatekeeper.regulations: regulations/texts.yaml and map.yaml):
# which references of which texts each requirement ID serves.
package gatekeeper.lib

# METADATA
# scope: document
# description: the regulation map, or {} when none is loaded
default regulation_map := {}

regulation_map := data.gatekeeper.regulations if is_object(data.gatekeeper.regulations)

# METADATA
# description: text name -> its entry in texts.yaml (name, version, references)
regulation_texts := as_object(object.get(regulation_map, "texts", {}))

# METADATA
# description: |
#   [position, the reference as a violation carries it] of one reference of a text;
#   the position keeps the text's own order (Art. 5 before Art. 10). An ID listed twice
#   is the first (the policy lint names the second). A scan of one text's list: cheaper
#   per violation than an index of every text built for each decision.
reference(text, id) := [i, {
	"text": text,
	"id": id,
	"label": sprintf("%s %s", [object.get(spec, "name", text), id]),
	"title": object.get(first, "title", ""),
	"version": object.get(spec, "version", ""),
}] if {
	spec := regulation_texts[text]
	entries := as_array(object.get(spec, "references", []))
	i := min({j | some j, entry in entries; entry.id == id})
	first := entries[i]
}

# METADATA
# description: |
#   The references of one requirement ID, in the texts' order: those of its family
#   (its ID prefix) and its own, or none when map.yaml says it is unmapped. A reference
#   texts.yaml does not list is left out here (the policy lint names it).
references(requirement) := [key[2] | some key in sort(keys)] if {
	keys := {[text, position, cited] |
		some [text, id] in mapped_pairs(requirement, mapped_families, mapped_requirements)
		[position, cited] := reference(text, id)
	}
} else := []

# METADATA
# description: the families of map.yaml, ID prefix to references by text
mapped_families := as_object(object.get(regulation_map, "families", {}))

# METADATA
# description: the requirements of map.yaml, ID to references by text, or unmapped with a reason
mapped_requirements := as_object(object.get(regulation_map, "requirements", {}))

# The [text, reference ID] pairs map.yaml names for an ID (nothing when unmapped).
mapped_pairs(requirement, families, requirements) := set() if {
	is_string(object.get(requirements, [requirement, "unmapped"], null))
} else := {[text, id] |
	some entry in [
		object.get(families, family_prefix(requirement), {}),
		object.get(requirements, requirement, {}),
	]
	some text, ids in as_object(entry)
	some id in as_array(ids)
}

# METADATA
# description: a requirement ID's family prefix (`fairness` of `fairness.min_group_size`)
family_prefix(requirement) := split(requirement, ".")[0]

# METADATA
# description: |
#   The short form of references the denial message ends with (`EU AI Act Art. 10,
#   Art. 15`): the references of the texts marked cited, "" when there are none.
citation(references) := concat("; ", [cited |
	some text in sort(object.keys(regulation_texts))
	object.get(regulation_texts[text], "cited", false) == true
	ids := [r.id | some r in references; r.text == text]
	count(ids) > 0
	cited := sprintf("%s %s", [regulation_texts[text].name, concat(", ", ids)])
])
