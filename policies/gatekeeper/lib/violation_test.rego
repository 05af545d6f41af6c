package gatekeeper.lib_test

import data.gatekeeper.lib

# every requirement ID the policies report
requirement_ids := {
	"classification.prohibited", "classification.unclassified", "classification.risk_class_invalid",
	"classification.mismatch",
	"evidence.model_reference", "evidence.missing", "evidence.unreadable", "evidence.unavailable",
	"evidence.mismatch", "evidence.stale",
	"documentation.model_card_missing", "documentation.model_card_section",
	"lineage.run_id", "lineage.code_commit", "lineage.training_dataset_digest",
	"performance.metric",
	"fairness.missing", "fairness.demographic_parity_ratio", "fairness.demographic_parity_difference",
	"fairness.equalized_odds_difference", "fairness.min_group_size", "fairness.metric_missing",
	"explainability.report", "explainability.report_format",
	"data_quality.missing", "data_quality.success_percent",
	"drift.missing", "drift.drift_share",
	"pii.scan_missing", "pii.open_findings",
	"signoff.role", "signoff.distinct_signers",
	"artifact.digest_missing", "artifact.storage_uri_mismatch", "artifact.unverifiable",
	"namespace.environment_label",
	"monitoring.required",
}

test_violation_document if {
	v := lib.violation({"name": "m", "version": "1"}, "pii.open_findings", "3 open", 3, 0)
	v == {
		"requirement": "pii.open_findings", "model": "m", "version": "1", "message": "3 open",
		"observed": 3, "threshold": 0, "remediation": data.gatekeeper.matrix.remediation["pii.open_findings"],
	}
}

test_every_requirement_has_remediation if {
	object.keys(data.gatekeeper.matrix.remediation) == requirement_ids
	every id in requirement_ids {
		lib.filled(data.gatekeeper.matrix.remediation[id])
	}
}

test_remediation_fallback if {
	lib.remediation("custom.thing") == "See requirement custom.thing in the requirement matrix."
}
