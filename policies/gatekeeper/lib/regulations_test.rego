package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

reference_ids(requirement) := [[r.text, r.id] | some r in refs] if {
	refs := lib.references(requirement) with data.gatekeeper.regulations as td.regulations
}

test_family_and_own_references_in_the_texts_order if {
	# pii's family references, then the ID's own Art. 5, ordered as texts lists them
	refs := lib.references("pii.scan_missing") with data.gatekeeper.regulations as td.regulations
	[[r.text, r.id] | some r in refs] == [["eu", "Art. 5"], ["eu", "Art. 10"], ["nist", "MEASURE 2.10"]]
	refs[0] == {"text": "eu", "id": "Art. 5", "label": "EU Act Art. 5", "title": "Prohibited", "version": "2024/1"}
}

test_own_references_without_a_family_mapping if {
	reference_ids("fairness.demographic_parity_ratio") == [["eu", "Art. 10"], ["nist", "MEASURE 2.11"]]
}

test_unmapped_and_unknown_ids_serve_nothing if {
	reference_ids("namespace.environment_label") == []
	reference_ids("drift.missing") == []
}

test_unmapped_drops_the_family_mapping if {
	regulations := object.union(td.regulations, {"requirements": {"pii.open_findings": {"unmapped": "why"}}})
	lib.references("pii.open_findings") == [] with data.gatekeeper.regulations as regulations
}

test_references_the_texts_do_not_list_are_left_out if {
	regulations := object.union(td.regulations, {"families": {"pii": {"eu": ["Art. 99"], "other": ["X"]}}})
	refs := lib.references("pii.open_findings") with data.gatekeeper.regulations as regulations
	[r.id | some r in refs] == ["MEASURE 2.10"]
}

test_an_id_listed_twice_is_its_first if {
	regulations := object.union(td.regulations, {"texts": {"nist": {"references": [
		{"id": "MEASURE 2.10", "title": "first"},
		{"id": "MEASURE 2.10", "title": "second"},
	]}}})
	refs := lib.references("pii.open_findings") with data.gatekeeper.regulations as regulations
	[r.title | some r in refs; r.text == "nist"] == ["first"]
}

test_no_map_loaded if {
	lib.references("pii.open_findings") == [] with data.gatekeeper.regulations as "not a map"
}

test_citation_names_only_cited_texts if {
	refs := lib.references("pii.scan_missing") with data.gatekeeper.regulations as td.regulations
	lib.citation(refs) == "EU Act Art. 5, Art. 10" with data.gatekeeper.regulations as td.regulations
	lib.citation([]) == "" with data.gatekeeper.regulations as td.regulations
}

test_family_prefix if {
	lib.family_prefix("fairness.min_group_size") == "fairness"
}
