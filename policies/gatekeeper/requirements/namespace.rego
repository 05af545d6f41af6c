# Namespace: the environment label decides which rules a namespace's workloads meet, so
# only the identities the policy data names may set, change or remove it
# (README "Which workloads, which model, which artifact").
# The gate sends Namespace CREATE/UPDATE that touch the label as input.namespace_label:
#   {"key", "old" (null on CREATE or when absent), "new" (null when removed), "user", "groups"}
package gatekeeper.requirements.namespace

import data.gatekeeper.lib

# METADATA
# description: the settings of a risk class in the requirement matrix this family evaluates
reads := set()

# METADATA
# description: the requirement IDs this family raises (each has a remediation text in the matrix)
raises := {"namespace.environment_label"}

# Who may set, change or remove the label (users and groups).
default editors := {}

editors := lib.as_object(data.gatekeeper.serving.environment_label.editors)

# METADATA
# description: a change of the environment label by an identity the policy does not name
violations contains v if {
	change := lib.as_object(input.namespace_label)
	object.get(change, "old", null) != object.get(change, "new", null)
	not editor(change)
	key := lib.text(object.get(change, "key", ""))
	words := [who(change), verb(change), key, values(change), allowed_text]
	message := sprintf("%s may not %s the namespace label %s (%s); allowed: %s", words)
	v := lib.violation(
		{"name": "", "version": ""}, "namespace.environment_label", message,
		object.get(change, "new", null), object.get(change, "old", null),
	)
}

editor(change) if object.get(change, "user", null) in lib.as_array(object.get(editors, "users", []))

editor(change) if {
	some group in lib.as_array(object.get(change, "groups", []))
	group in lib.as_array(object.get(editors, "groups", []))
}

who(change) := sprintf("user %s", [change.user]) if {
	lib.filled(object.get(change, "user", null))
} else := "an unidentified user"

verb(change) := "remove" if {
	object.get(change, "new", null) == null
} else := "set" if {
	object.get(change, "old", null) == null
} else := "change"

values(change) := sprintf("%v -> %v", [object.get(change, "old", null), object.get(change, "new", null)])

default allowed_text := "nobody (policy data gatekeeper.serving.environment_label.editors is empty)"

allowed_text := text if {
	names := array.concat(
		[sprintf("user %s", [u]) | some u in lib.as_array(object.get(editors, "users", []))],
		[sprintf("group %s", [g]) | some g in lib.as_array(object.get(editors, "groups", []))],
	)
	count(names) > 0
	text := concat(", ", names)
}
