package gatekeeper.lib_test

import data.gatekeeper.lib
import data.gatekeeper.testdata as td

test_every_module_under_requirements_is_a_family if {
	# (other modules may be there too: each is a family by being there)
	known := {
		"artifact", "classification", "data_quality", "documentation", "drift", "evidence", "explainability",
		"fairness", "lineage", "monitoring", "namespace", "performance", "pii", "signoff", "staleness",
	}
	known - object.keys(lib.families) == set()
	not lib.families.lib
	not lib.families.artifact_test
	lib.families.documentation == {
		"reads": {"model_card"},
		"raises": {"documentation.model_card_missing", "documentation.model_card_section"},
	}
}

test_a_family_that_declares_nothing_still_counts if {
	lib.families.pii == {"reads": set(), "raises": set()} with data.gatekeeper.requirements.pii.reads as null
		with data.gatekeeper.requirements.pii.raises as null
}

test_checked_families_follow_the_class_settings if {
	ctx := {"requirements": {"model_card": {}, "signoffs": null, "pii": {"max_open_findings": 0}, "admitted": true}}
	checked := lib.checked_families(ctx) with data.gatekeeper.matrix as td.matrix
	checked == ["classification", "documentation", "evidence", "pii"]
	lib.checked_families({"requirements": {}}) == ["classification", "evidence"]
}
