# The regulation map's own checks (policies/gatekeeper/regulations/): every requirement
# ID some family raises is mapped to a reference or explicitly unmapped with a reason;
# the map names no ID, family, text or reference that does not exist; each text says
# its version and each reference what it is. One line per problem, naming the file.
package gatekeeper.lint

import data.gatekeeper.lib

# METADATA
# scope: document
# description: the files of the regulation map, beside the matrix in the policy folder's layout
default regulations_dir := "gatekeeper/regulations/"

regulations_dir := concat("", [trim_suffix(path, "lint/lint.rego"), "regulations/"]) if {
	some path, _ in lib.as_object(input.modules)
	endswith(path, "gatekeeper/lint/lint.rego")
}

map_file := concat("", [regulations_dir, "map.yaml"])

texts_file := concat("", [regulations_dir, "texts.yaml"])

# METADATA
# description: every requirement ID a family raises (declared or written in its module)
known_ids contains id if some [_, id] in raised_ids

known_prefixes contains lib.prefix_of(name) if some name, _ in lib.families

# METADATA
# description: where -> entry of each mapping in map.yaml (families.X, requirements.Y)
map_entries[where] := lib.as_object(entry) if {
	some section in ["families", "requirements"]
	some key, entry in lib.as_object(object.get(lib.regulation_map, section, {}))
	where := sprintf("%s.%s", [section, key])
}

unmapped_reason(id) := reason if {
	reason := lib.regulation_map.requirements[id].unmapped
	is_string(reason)
	trim_space(reason) != ""
}

problems contains line if {
	some [name, id] in raised_ids
	count(lib.references(id)) == 0
	not unmapped_reason(id)
	template := concat("", [
		"%s: requirement '%s' (family '%s', %s) serves no reference: ",
		"map it under families.%s or requirements.%s, or say why not (unmapped: ...)",
	])
	line := sprintf(template, [map_file, id, name, file_of(name), lib.family_prefix(id), id])
}

problems contains sprintf("%s: requirements.%s: no family raises '%s'", [map_file, id, id]) if {
	some id, _ in lib.as_object(object.get(lib.regulation_map, "requirements", {}))
	not id in known_ids
}

problems contains line if {
	some prefix, _ in lib.as_object(object.get(lib.regulation_map, "families", {}))
	not prefix in known_prefixes
	template := "%s: families.%s: no family raises IDs starting '%s.' (families: %s)"
	line := sprintf(template, [map_file, prefix, prefix, concat(", ", sort(known_prefixes))])
}

problems contains line if {
	some where, entry in map_entries
	some text, _ in entry
	text != "unmapped"
	not lib.regulation_texts[text]
	texts := concat(", ", sort(object.keys(lib.regulation_texts)))
	template := "%s: %s.%s: unknown regulation '%s' (texts: %s; add it to %s)"
	line := sprintf(template, [map_file, where, text, text, texts, texts_file])
}

problems contains sprintf("%s: %s.%s: a list of references, e.g. [%s]", [map_file, where, text, example]) if {
	some where, entry in map_entries
	some text, ids in entry
	text != "unmapped"
	not is_array(ids)
	example := object.get(lib.regulation_texts, [text, "references", 0, "id"], "...")
}

problems contains line if {
	some where, entry in map_entries
	some text, ids in entry
	lib.regulation_texts[text]
	some id in lib.as_array(ids)
	not lib.reference(text, id)
	line := sprintf("%s: %s.%s: '%v' is not a reference of %s in %s", [map_file, where, text, id, text, texts_file])
}

problems contains sprintf("%s: %s: unmapped needs a reason (%s)", [map_file, where, why]) if {
	some where, entry in map_entries
	"unmapped" in object.keys(entry)
	not non_empty_string(entry.unmapped)
	why := "a sentence saying why it serves nothing"
}

problems contains sprintf("%s: %s: both unmapped and mapped to references", [map_file, where]) if {
	some where, entry in map_entries
	"unmapped" in object.keys(entry)
	count(object.keys(entry)) > 1
}

problems contains sprintf("%s: texts.%s: no %s (%s)", [texts_file, text, field, why]) if {
	some text, spec in lib.regulation_texts
	some field, why in {"name": "as a person cites the text", "version": "the version the references are to"}
	not non_empty_string(object.get(spec, field, null))
}

problems contains sprintf("%s: texts.%s.references[%d]: no %s", [texts_file, text, i, field]) if {
	some text, spec in lib.regulation_texts
	some i, entry in lib.as_array(object.get(spec, "references", []))
	some field in ["id", "summary"]
	not non_empty_string(object.get(entry, field, null))
}

problems contains sprintf("%s: texts.%s: reference '%s' is listed %d times", [texts_file, text, id, n]) if {
	some text, spec in lib.regulation_texts
	ids := [entry.id | some entry in lib.as_array(object.get(spec, "references", []))]
	some id in {id | some id in ids}
	n := count([x | some x in ids; x == id])
	n > 1
}

non_empty_string(x) if {
	is_string(x)
	trim_space(x) != ""
}
