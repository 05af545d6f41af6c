# Which references of the regulation map the requirements serve, per risk class and
# environment (`gatekeeper policy coverage`): the question "which article has nothing
# enforcing it" answered from the matrix, the families' declarations and the map.
#
# Input (optional): {"risk_class": "high", "environment": "production"} to keep one
# row or column.
package gatekeeper.coverage

import data.gatekeeper.lib

# METADATA
# title: Regulation coverage
# description: the risk classes and environments there are, and the cells asked for
# entrypoint: true
report := {
	"risk_classes": lib.risk_classes,
	"environments": sort(lib.environment_names),
	"cells": cells,
}

# METADATA
# description: |
#   One cell per risk class (least to most severe) and environment (sorted): the
#   environment's enforcement, the requirement IDs evaluated for the class there, and
#   per text of the map the references they serve (with the IDs serving each) and the
#   references none serves. A family is evaluated when the class has a setting it reads
#   (classification, and families reading nothing, always are), so all its IDs count.
cells := [cell(class, environment) |
	some class in lib.risk_classes
	some environment in sort(lib.environment_names)
	selected(class, environment)
]

selected(class, environment) if {
	object.get(lib.as_object(filter), "risk_class", class) == class
	object.get(lib.as_object(filter), "environment", environment) == environment
}

default filter := {}

filter := input

cell(class, environment) := {
	"risk_class": class,
	"environment": environment,
	"enforcement": lib.enforcement_of(environment),
	"requirements": sort(ids),
	"texts": [text_coverage(text, ids) | some text in sort(object.keys(lib.regulation_texts))],
} if {
	ids := evaluated_ids(lib.requirements_in(class, environment))
}

# METADATA
# description: the requirement IDs of the families evaluated under a class's requirements
evaluated_ids(requirements) := {id |
	some name, family in lib.families
	evaluated(name, family, requirements)
	some id in family.raises
}

evaluated(name, _, _) if lib.prefix_of(name) == "classification"

evaluated(_, family, _) if count(family.reads) == 0

evaluated(_, family, requirements) if {
	some setting in family.reads
	is_object(object.get(requirements, setting, null))
}

text_coverage(text, ids) := {
	"text": text,
	"name": object.get(spec, "name", text),
	"version": object.get(spec, "version", ""),
	"served": [object.union(reference(entry), {"requirements": serving}) |
		some entry in references
		serving := sort({id | some id in ids; serves(id, text, entry.id)})
		count(serving) > 0
	],
	"unserved": [reference(entry) |
		some entry in references
		not some_serves(ids, text, entry.id)
	],
} if {
	spec := lib.regulation_texts[text]
	references := lib.as_array(object.get(spec, "references", []))
}

reference(entry) := {
	"id": entry.id,
	"title": object.get(entry, "title", ""),
	"summary": object.get(entry, "summary", ""),
}

serves(id, text, reference_id) if {
	some r in lib.references(id)
	r.text == text
	r.id == reference_id
}

some_serves(ids, text, reference_id) if {
	some id in ids
	serves(id, text, reference_id)
}
