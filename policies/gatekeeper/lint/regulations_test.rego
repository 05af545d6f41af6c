package gatekeeper.lint_test

import data.gatekeeper.lint
import data.gatekeeper.testdata as td

# the shipped families' IDs, each mapped in the test map (by family or by ID)
complete_map := object.union(td.regulations, {
	"families": {family: {"eu": ["Art. 12"]} | some family in lint.known_prefixes},
	"requirements": {"namespace.environment_label": {"unmapped": "the gate's own label"}},
})

map_problems(regulations) := {line |
	some line in lint.problems with data.gatekeeper.regulations as regulations
	startswith(line, "gatekeeper/regulations/")
}

test_the_shipped_map_has_no_problems if {
	problems := {line | some line in lint.problems; contains(line, "regulations/")}
	problems == set()
}

test_a_complete_map_has_no_problems if {
	map_problems(complete_map) == set()
}

test_an_unmapped_id_is_named if {
	regulations := json.remove(complete_map, ["families/drift"])
	map_problems(regulations) == {
		concat("", [
			"gatekeeper/regulations/map.yaml: requirement 'drift.drift_share' (family 'drift', package ",
			"gatekeeper.requirements.drift) serves no reference: map it under families.drift or ",
			"requirements.drift.drift_share, or say why not (unmapped: ...)",
		]),
		concat("", [
			"gatekeeper/regulations/map.yaml: requirement 'drift.missing' (family 'drift', package ",
			"gatekeeper.requirements.drift) serves no reference: map it under families.drift or ",
			"requirements.drift.missing, or say why not (unmapped: ...)",
		]),
	}
}

test_unknown_ids_and_families_are_named if {
	regulations := object.union(complete_map, {
		"families": {"fairnes": {"eu": ["Art. 10"]}},
		"requirements": {"fairness.demographic_parity": {"eu": ["Art. 10"]}},
	})
	problems := map_problems(regulations)
	count(problems) == 2
	unknown_id := "requirements.fairness.demographic_parity: no family raises 'fairness.demographic_parity'"
	concat("", ["gatekeeper/regulations/map.yaml: ", unknown_id]) in problems
	some line in problems
	unknown_family := "families.fairnes: no family raises IDs starting 'fairnes.' (families: artifact, "
	startswith(line, concat("", ["gatekeeper/regulations/map.yaml: ", unknown_family]))
}

test_unknown_texts_and_references_are_named if {
	pii := {"eu_ai_akt": ["Art. 10"], "eu": ["Art. 99"], "nist": "MEASURE 2.10"}
	regulations := object.union(complete_map, {"families": {"pii": pii}})
	map_problems(regulations) == {
		concat("", [
			"gatekeeper/regulations/map.yaml: families.pii.eu_ai_akt: unknown regulation ",
			"'eu_ai_akt' (texts: eu, nist; add it to gatekeeper/regulations/texts.yaml)",
		]),
		concat("", [
			"gatekeeper/regulations/map.yaml: families.pii.eu: 'Art. 99' is not a reference ",
			"of eu in gatekeeper/regulations/texts.yaml",
		]),
		"gatekeeper/regulations/map.yaml: families.pii.nist: a list of references, e.g. [MEASURE 2.10]",
		concat("", [
			"gatekeeper/regulations/map.yaml: requirement 'pii.open_findings' (family 'pii', package ",
			"gatekeeper.requirements.pii) serves no reference: map it under families.pii or ",
			"requirements.pii.open_findings, or say why not (unmapped: ...)",
		]),
	}
}

test_unmapped_needs_a_reason_and_nothing_else if {
	regulations := object.union(complete_map, {"requirements": {
		"namespace.environment_label": {"unmapped": " "},
		"pii.open_findings": {"unmapped": "because", "eu": ["Art. 10"]},
	}})
	map_problems(regulations) == {
		concat("", [
			"gatekeeper/regulations/map.yaml: requirements.namespace.environment_label: ",
			"unmapped needs a reason (a sentence saying why it serves nothing)",
		]),
		concat("", [
			concat("", [
				"gatekeeper/regulations/map.yaml: requirement 'namespace.environment_label' ",
				"(family 'namespace', package ",
			]),
			"gatekeeper.requirements.namespace) serves no reference: map it under families.namespace or ",
			"requirements.namespace.environment_label, or say why not (unmapped: ...)",
		]),
		concat("", [
			"gatekeeper/regulations/map.yaml: requirements.pii.open_findings: both unmapped ",
			"and mapped to references",
		]),
	}
}

test_texts_say_their_version_and_each_reference_what_it_is if {
	regulations := object.union(complete_map, {"texts": {
		"eu": {"name": "", "version": null},
		"nist": {"references": [{"id": "MEASURE 2.11"}, {"id": "MEASURE 2.11", "summary": "Bias."}, {"summary": "x"}]},
	}})
	problems := map_problems(regulations)
	every line in [
		"gatekeeper/regulations/texts.yaml: texts.eu: no name (as a person cites the text)",
		"gatekeeper/regulations/texts.yaml: texts.eu: no version (the version the references are to)",
		"gatekeeper/regulations/texts.yaml: texts.nist.references[0]: no summary",
		"gatekeeper/regulations/texts.yaml: texts.nist.references[2]: no id",
		"gatekeeper/regulations/texts.yaml: texts.nist: reference 'MEASURE 2.11' is listed 2 times",
	] {
		line in problems
	}
}

test_files_are_named_where_the_policy_folder_is if {
	modules := {"/srv/policies/gatekeeper/lint/lint.rego": "package gatekeeper.lint"}
	problems := lint.problems with data.gatekeeper.regulations as json.remove(complete_map, ["families/pii"])
		with input.modules as modules
	some line in problems
	startswith(line, "/srv/policies/gatekeeper/regulations/map.yaml: requirement 'pii.open_findings' ")
}
