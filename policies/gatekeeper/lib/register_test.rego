package gatekeeper.lib_test

import data.gatekeeper.lib

register := {"models": [
	{"model": "credit-scoring", "risk_class": "limited", "decided_by": "mrc", "decided_at": "2026-09-15"},
	{"model": "credit-*", "risk_class": "high", "decided_by": "mrc", "decided_at": "2026-09-15"},
	{"model": "*-scoring", "risk_class": "prohibited", "decided_by": "mrc", "decided_at": "2026-09-15"},
	{"model": "fraud-?", "risk_class": "minimal", "decided_by": "mrc", "decided_at": "2026-09-15"},
	{"model": "broken", "risk_class": "severe"},
	{"model": 7, "risk_class": "high"},
	"not an entry",
]}

test_an_exact_name_wins_over_patterns if {
	entry := lib.register_entry("credit-scoring") with data.gatekeeper.classification as register
	entry.risk_class == "limited"
}

test_of_several_patterns_the_strictest_applies if {
	lib.register_entry("credit-rating").risk_class == "high" with data.gatekeeper.classification as register
	lib.register_entry("fraud-scoring").risk_class == "prohibited" with data.gatekeeper.classification as register
	lib.register_entry("fraud-1").risk_class == "minimal" with data.gatekeeper.classification as register
}

test_an_unknown_model_has_no_entry if {
	lib.register_entry("fraud-12") == null with data.gatekeeper.classification as register
	lib.register_entry("churn") == null with data.gatekeeper.classification as {}
	lib.register_entry("churn") == null with data.gatekeeper.classification as {"models": "all high"}
}

test_malformed_entries_classify_nothing if {
	lib.register_entry("broken") == null with data.gatekeeper.classification as register
	count(lib.register_entries) == 4 with data.gatekeeper.classification as register
}

test_the_shipped_register_classifies_the_examples if {
	lib.register_entry("credit-scoring").risk_class == "high"
	lib.register_entry("churn-predictor").risk_class == "limited"
	lib.register_entry("fraud-detector") == null
	every entry in data.gatekeeper.classification.models {
		lib.risk_rank[entry.risk_class]
		is_string(entry.decided_by)
		is_string(entry.decided_at)
	}
}
