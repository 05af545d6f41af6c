# The requirement families: every package under gatekeeper.requirements that defines
# `violations` is one, and takes effect by being there. decision.rego collects the
# violations of all of them; nothing lists them by name.
package gatekeeper.lib

# METADATA
# scope: document
# description: |
#   family (the last part of its package name) -> what its module declares:
#   reads, the settings of a risk class it evaluates (e.g. {"model_card"}), and raises,
#   the requirement IDs its violations carry. Found by their declarations, which cost
#   nothing to read (not by evaluating their violations a second time). A module that
#   declares nothing is still collected by the decision (fail closed); gatekeeper.lint
#   names it.
families[name] := {"reads": reads_of(name), "raises": raises_of(name)} if {
	some name
	data.gatekeeper.requirements[name].reads
}

families[name] := {"reads": set(), "raises": raises_of(name)} if {
	some name
	data.gatekeeper.requirements[name].raises
	not data.gatekeeper.requirements[name].reads
}

# (each rule by its own name: a variable rule name would reach into the test packages)
reads_of(name) := reads if {
	reads := data.gatekeeper.requirements[name].reads
	is_set(reads)
} else := set()

raises_of(name) := raises if {
	raises := data.gatekeeper.requirements[name].raises
	is_set(raises)
} else := set()

# METADATA
# description: |
#   The requirement families that evaluated a model (decision.checks): the ID
#   prefixes of the families reading a setting the model's class has (a family or setting
#   the class leaves out, or sets to null, is not evaluated), with classification and
#   evidence, which every model meets.
checked_families(ctx) := sort({"classification", "evidence"} | {prefix |
	some [setting, prefix] in prefixes_reading
	is_object(object.get(ctx.requirements, setting, null))
})

# METADATA
# description: |
#   [setting, ID prefix] of the families reading a setting: each family's name, or its
#   `prefix` where its IDs use another (staleness raises evidence.stale). Read once per
#   query from the declarations, which are constants.
prefixes_reading contains [setting, prefix_of(name)] if {
	some name, reads in reading
	some setting in reads
}

# family -> the settings it reads
reading[name] := reads if {
	some name
	reads := data.gatekeeper.requirements[name].reads
	is_set(reads)
}

# METADATA
# description: the requirement ID prefix of a family's IDs
prefix_of(name) := prefix if {
	prefix := data.gatekeeper.requirements[name].prefix
	is_string(prefix)
} else := name
