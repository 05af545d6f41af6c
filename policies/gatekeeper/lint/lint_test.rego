package gatekeeper.lint_test

import data.gatekeeper.lib
import data.gatekeeper.lint
import data.gatekeeper.testdata as td

# the test matrix with a remediation text for every ID the families declare
remediated := object.union(td.matrix, {"remediation": {id: "Do this." |
	some family in lib.families
	some id in family.raises
}})

problems_with(matrix) := problems if {
	problems := lint.problems with data.gatekeeper.matrix as matrix
}

test_no_problems if {
	problems_with(remediated) == set()
}

test_a_family_no_module_implements if {
	misspelt := object.union(remediated, {
		"risk_classes": {"high": {"explainabilty": {"required": true}}},
		"overrides": {"development": {"limited": {"fairnes": null}}},
	})
	problems := problems_with(misspelt)
	count(problems) == 2
	every where in ["risk_classes.high.explainabilty", "overrides.development.limited.fairnes"] {
		some line in problems
		no_module := "no module under gatekeeper.requirements implements the family"
		startswith(line, sprintf("gatekeeper/matrix/requirements.yaml: %s: %s '", [where, no_module]))
		contains(line, "(families: admitted, artifact, data_quality, drift, expiry_warning_days, explainability, ")
	}
}

test_an_id_without_remediation if {
	matrix := json.remove(remediated, ["remediation/pii.open_findings"])
	problems_with(matrix) == {concat("", [
		"package gatekeeper.requirements.pii: family 'pii' raises 'pii.open_findings', which has no remediation ",
		"text in gatekeeper/matrix/requirements.yaml (remediation)",
	])}
}

module := concat("\n", [
	"package gatekeeper.requirements.pii",
	"import data.gatekeeper.lib",
	`violations contains lib.violation({}, "pii.open_findings", "m", null, null) if true`,
	`violations contains data.gatekeeper.lib.violation({}, "pii.leaked", "m", null, null) if true`,
	`other := lib.violation({}, concat(".", ["pii", "x"]), "m", null, null)`,
])

test_ids_a_module_writes_are_found_in_its_file if {
	modules := {
		"policies/gatekeeper/requirements/pii.rego": module,
		"policies/gatekeeper/requirements/pii_test.rego": "package gatekeeper.requirements.pii_test",
		"policies/gatekeeper/lint/lint.rego": "package gatekeeper.lint",
	}
	problems := lint.problems with data.gatekeeper.matrix as remediated with input.modules as modules
	problems == {
		"policies/gatekeeper/requirements/pii.rego: family 'pii' raises 'pii.leaked' without declaring it in raises",
		concat("", [
			"policies/gatekeeper/requirements/pii.rego: family 'pii' raises 'pii.leaked', which has no remediation ",
			"text in policies/gatekeeper/matrix/requirements.yaml (remediation)",
		]),
	}
}

test_a_module_that_declares_nothing if {
	problems := lint.problems with data.gatekeeper.matrix as remediated
		with data.gatekeeper.requirements.pii.raises as "pii.open_findings"
		with data.gatekeeper.requirements.monitoring.reads as null
	count(problems) == 3
	concat("", [
		"package gatekeeper.requirements.pii: family 'pii' does not declare raises ",
		"(raises := {...}: the requirement IDs it raises)",
	]) in problems
	concat("", [
		"package gatekeeper.requirements.monitoring: family 'monitoring' does not declare reads ",
		"(reads := {...}: the settings of a risk class it evaluates)",
	]) in problems

	# and so nothing implements the matrix's monitoring any more
	some line in problems
	startswith(line, concat("", [
		"gatekeeper/matrix/requirements.yaml: risk_classes.high.monitoring: no module under gatekeeper.requirements ",
		"implements the family 'monitoring' (families: ",
	]))
}

test_an_id_outside_the_family_prefix if {
	matrix := object.union(remediated, {"remediation": {"privacy.leak": "Do this."}})
	problems := lint.problems with data.gatekeeper.matrix as matrix
		with data.gatekeeper.requirements.pii.raises as {"pii.open_findings", "privacy.leak"}
		with data.gatekeeper.regulations.requirements as {"privacy.leak": {"unmapped": "a test ID"}}
	problems == {concat("", [
		"package gatekeeper.requirements.pii: family 'pii' raises 'privacy.leak', ",
		`whose prefix is not the family's 'pii' (or set prefix := "...")`,
	])}
}
