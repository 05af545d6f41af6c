# What the compliance team wrote that would otherwise pass silently: a family in the
# requirement matrix that no module implements (a typo such as `explainabilty`), a
# family module that does not say what it raises, a requirement ID without a
# remediation text. `gatekeeper policy test`, the gate's start and its readiness refuse
# the policy while any line is here; each names the family and the file.
#
# Input (optional): {"modules": {path: Rego source}}, the modules as OPA loaded them, to
# name their files and find the IDs they pass to lib.violation.
package gatekeeper.lint

import data.gatekeeper.lib

# METADATA
# scope: document
# description: |
#   The file the requirement matrix is read from: beside this module in the policy
#   folder's layout (gatekeeper/matrix/), as the input names this module's file.
default matrix_file := "gatekeeper/matrix/requirements.yaml"

matrix_file := concat("", [trim_suffix(path, "lint/lint.rego"), "matrix/requirements.yaml"]) if {
	some path, _ in lib.as_object(input.modules)
	endswith(path, "gatekeeper/lint/lint.rego")
}

# METADATA
# description: |
#   The settings a risk class may have: those the families read, and those the
#   mechanisms read (expiry_warning_days, by gatekeeper.expiry).
known_settings := {setting |
	some family in lib.families
	some setting in family.reads
} | data.gatekeeper.expiry.reads

# METADATA
# scope: document
# description: each risk class's settings in the matrix, by where they are written
class_entries[where] := lib.as_object(spec) if {
	some class, spec in lib.as_object(object.get(lib.matrix, "risk_classes", {}))
	where := sprintf("risk_classes.%s", [class])
}

class_entries[where] := lib.as_object(spec) if {
	some environment, classes in lib.as_object(object.get(lib.matrix, "overrides", {}))
	some class, spec in lib.as_object(classes)
	where := sprintf("overrides.%s.%s", [environment, class])
}

# METADATA
# title: Policy problems
# description: one line per problem, naming the family and the file
# entrypoint: true
problems contains line if {
	some where, spec in class_entries
	some setting, _ in spec
	not setting in known_settings
	families := concat(", ", sort(known_settings))
	template := "%s: %s.%s: no module under gatekeeper.requirements implements the family '%s' (families: %s)"
	line := sprintf(template, [matrix_file, where, setting, setting, families])
}

problems contains sprintf("%s: family '%s' does not declare reads (%s)", [file_of(name), name, why]) if {
	some name in modules
	not declares_reads(name)
	why := "reads := {...}: the settings of a risk class it evaluates"
}

problems contains sprintf("%s: family '%s' does not declare raises (%s)", [file_of(name), name, why]) if {
	some name in modules
	not declares_raises(name)
	why := "raises := {...}: the requirement IDs it raises"
}

problems contains line if {
	some [name, requirement] in literal_ids
	not requirement in object.get(lib.families, [name, "raises"], set())
	line := sprintf("%s: family '%s' raises '%s' without declaring it in raises", [file_of(name), name, requirement])
}

problems contains line if {
	some [name, requirement] in raised_ids
	not is_string(object.get(lib.as_object(object.get(lib.matrix, "remediation", {})), requirement, null))
	template := "%s: family '%s' raises '%s', which has no remediation text in %s (remediation)"
	line := sprintf(template, [file_of(name), name, requirement, matrix_file])
}

problems contains line if {
	some name, family in lib.families
	some requirement in family.raises
	prefix := lib.prefix_of(name)
	not startswith(requirement, concat("", [prefix, "."]))
	template := "%s: family '%s' raises '%s', whose prefix is not the family's '%s' (or set prefix := \"...\")"
	line := sprintf(template, [file_of(name), name, requirement, prefix])
}

# (`not is_set(ref)` is not true for an undefined ref: these are, and `not` them is)
declares_reads(name) if is_set(data.gatekeeper.requirements[name].reads)

declares_raises(name) if is_set(data.gatekeeper.requirements[name].raises)

# METADATA
# description: every module under gatekeeper.requirements that reports violations
modules contains name if {
	some name
	data.gatekeeper.requirements[name].violations
}

# Every ID a family declares or passes to lib.violation as written.
raised_ids contains [name, requirement] if {
	some name, family in lib.families
	some requirement in family.raises
}

raised_ids contains id if some id in literal_ids

# METADATA
# description: |
#   [family, ID] for each requirement ID a family module passes to lib.violation as
#   a string (IDs it builds, e.g. with concat, only its raises can name).
literal_ids contains [name, requirement] if {
	some module in parsed
	name := family_of(module)
	walk(module, [_, node])
	node.type == "call"
	is_violation_call(node.value[0].value)
	node.value[2].type == "string"
	requirement := node.value[2].value
}

is_violation_call(ref) if {
	ref[0].value == "lib"
	ref[1].value == "violation"
	count(ref) == 2
}

is_violation_call(ref) if [term.value | some term in ref] == ["data", "gatekeeper", "lib", "violation"]

# The family modules of the input, parsed (test modules left out; a module of another
# package is not parsed at all: parsing is most of the cost of these checks).
parsed[path] := rego.parse_module(path, source) if {
	some path, source in lib.as_object(input.modules)
	is_string(source)
	not endswith(path, "_test.rego")
	contains(source, "package gatekeeper.requirements.")
}

# gatekeeper.requirements.<name> -> name
family_of(module) := module.package.path[3].value if {
	[term.value | some term in array.slice(module.package.path, 0, 3)] == ["data", "gatekeeper", "requirements"]
	count(module.package.path) == 4
}

# METADATA
# description: the file(s) of a family's module when the input names them, else its package
file_of(name) := concat(", ", sort(files)) if {
	files := {path | some path, module in parsed; family_of(module) == name}
	count(files) > 0
} else := sprintf("package gatekeeper.requirements.%s", [name])
