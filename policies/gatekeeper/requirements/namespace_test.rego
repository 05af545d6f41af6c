package gatekeeper.requirements.namespace_test

import data.gatekeeper.requirements.namespace
import data.gatekeeper.testdata as td

label := "model-gatekeeper.io/environment"

change(old, new, user, groups) := {"key": label, "old": old, "new": new, "user": user, "groups": groups}

editors := {"users": ["carol"], "groups": ["platform-admins"]}

judged(c, named) := violations if {
	doc := object.union(td.input_of([]), {"namespace_label": c})

	# regal ignore:external-reference
	violations := namespace.violations with input as doc with data.gatekeeper.serving.environment_label.editors as named
		with data.gatekeeper.matrix as td.matrix
}

found(c) := td.ids(judged(c, editors))

test_only_named_identities_touch_the_label if {
	found(change(null, "production", "dave", ["dev"])) == {"namespace.environment_label"}
	found(change("production", null, "dave", [])) == {"namespace.environment_label"}
	found(change("production", "development", "dave", [])) == {"namespace.environment_label"}
	found(change("production", "development", "carol", [])) == set()
	found(change("production", null, "dave", ["platform-admins"])) == set()
	found(change("production", "production", "dave", [])) == set()
}

test_no_label_change_no_input if {
	td.ids(namespace.violations) == set() with input as td.input_of([]) with data.gatekeeper.matrix as td.matrix
}

test_messages if {
	{v.message | some v in judged(change("production", null, "dave", []), editors)} == {concat("", [
		"user dave may not remove the namespace label model-gatekeeper.io/environment ",
		"(production -> null); allowed: user carol, group platform-admins",
	])}
	{v.message | some v in judged(change(null, "staging", null, []), {})} == {concat("", [
		"an unidentified user may not set the namespace label model-gatekeeper.io/environment ",
		"(null -> staging); allowed: nobody (policy data gatekeeper.serving.environment_label.editors is empty)",
	])}
}

# The guard protects the governance itself: whatever environment the review is judged
# at (the path, or the namespace's own warn/dryrun label), an unnamed identity is denied.
test_denied_in_every_environment if {
	every environment in ["production", "staging", "development"] {
		doc := object.union(td.input_in(environment, []), {"namespace_label": change("production", "staging", "dave", [])})
		answer := data.gatekeeper.decision with input as doc with data.gatekeeper.serving.environment_label.editors as editors
			with data.gatekeeper.matrix as td.matrix
		answer.allowed == false
		answer.enforcement == "deny"
		[v.requirement | some v in answer.violations] == ["namespace.environment_label"]
		answer.warnings == []
	}
}

test_a_named_identity_passes_in_every_environment if {
	every environment in ["production", "staging", "development"] {
		doc := object.union(td.input_in(environment, []), {"namespace_label": change("production", "staging", "carol", [])})
		answer := data.gatekeeper.decision with input as doc with data.gatekeeper.serving.environment_label.editors as editors
			with data.gatekeeper.matrix as td.matrix
		answer.allowed == true
		answer.violations == []
	}
}
