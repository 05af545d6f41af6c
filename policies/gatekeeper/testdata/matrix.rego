# The requirement matrix the tests of mechanisms pin (`with data.gatekeeper.matrix as
# td.matrix`): the shipped thresholds as they were when the tests were written, so that a
# compliance team changing policies/gatekeeper/matrix/requirements.yaml breaks only the
# tests that state what the shipped policy decides (expectations/), never these.
package gatekeeper.testdata

# METADATA
# description: a fixed requirement matrix for tests (not the shipped one)
matrix := {
	"environments": {
		"production": {"enforcement": "deny"},
		"staging": {"enforcement": "warn"},
		"development": {"enforcement": "dryrun"},
	},
	"risk_classes": {
		"prohibited": {"admitted": false},
		"high": {
			"model_card": {"sections": [
				"intended_use",
				"limitations",
				"training_data",
				"evaluation",
				"ethics",
			]},
			"lineage": {
				"run_id": true,
				"code_commit": true,
				"training_dataset_digest": true,
			},
			"fairness": {
				"demographic_parity_ratio_min": 0.8,
				"demographic_parity_difference_max": 0.1,
				"equalized_odds_difference_max": 0.1,
				"min_group_size": 100,
				"favourable_outcome_required": true,
			},
			"explainability": {"required": true},
			"pii": {"max_open_findings": 0},
			"signoffs": {
				"roles": [
					"validator",
					"compliance",
				],
				"min_distinct_signers": 2,
			},
			"artifact": {
				"digest_required": true,
				"location_verifiable": true,
			},
			"monitoring": {"required": true},
			"data_quality": {"min_success_percent": 99},
			"drift": {"drift_share_max": 0.3},
			"performance": {},
			"max_evidence_age_days": {
				"pii_scan": 365,
				"drift": 30,
				"fairness": 365,
			},
			"expiry_warning_days": 30,
		},
		"limited": {
			"model_card": {"sections": [
				"intended_use",
				"limitations",
			]},
			"lineage": {
				"run_id": true,
				"code_commit": true,
				"training_dataset_digest": true,
			},
			"fairness": {"demographic_parity_ratio_min": 0.8, "favourable_outcome_required": true},
			"pii": {"max_open_findings": 0},
			"signoffs": {
				"roles": ["owner"],
				"min_distinct_signers": 1,
			},
			"artifact": {
				"digest_required": true,
				"location_verifiable": true,
			},
			"data_quality": {"min_success_percent": 95},
			"drift": {"drift_share_max": 0.5},
			"max_evidence_age_days": {"pii_scan": 365, "fairness": 365},
			"expiry_warning_days": 30,
		},
		"minimal": {
			"model_card": {"sections": ["intended_use"]},
			"lineage": {"run_id": true},
			"expiry_warning_days": 14,
		},
	},
	"overrides": {},
	"models": {"credit-scoring": {"fairness": {"required_attributes": ["sex"]}}},
	"evidence": {
		"clock_skew_seconds": 300,
		"placeholders": [
			"n/a",
			"na",
			"none",
			"null",
			"nil",
			"unknown",
			"todo",
			"tbd",
			"tba",
			"fixme",
			"xxx",
			"placeholder",
			"changeme",
			"-",
			"--",
			"?",
			"...",
		],
	},
	"waivers": {
		"approver_roles": ["compliance"],
		"never_waivable_prefixes": ["classification."],
	},
	"signoff_roles": {"default": {"reviews_all_but": ["drift"], "max_validity_days": 730}},
	"remediation": {"pii.open_findings": "Fixture remediation for pii.open_findings."},
}

# METADATA
# description: |
#   A fixed regulation map for tests (not the shipped one): two texts, one cited; pii
#   mapped by family, pii.scan_missing with one more reference, fairness by ID only.
regulations := {
	"texts": {
		"eu": {"name": "EU Act", "version": "2024/1", "cited": true, "references": [
			{"id": "Art. 5", "title": "Prohibited", "summary": "Never."},
			{"id": "Art. 10", "title": "Data", "summary": "Data is governed."},
			{"id": "Art. 12", "title": "Records", "summary": "Events are logged."},
		]},
		"nist": {"name": "NIST", "version": "1.0", "references": [
			{"id": "MEASURE 2.10", "summary": "Privacy."},
			{"id": "MEASURE 2.11", "title": "Fairness", "summary": "Bias is measured."},
		]},
	},
	"families": {"pii": {"eu": ["Art. 10"], "nist": ["MEASURE 2.10"]}},
	"requirements": {
		"pii.scan_missing": {"eu": ["Art. 5"]},
		"fairness.demographic_parity_ratio": {"nist": ["MEASURE 2.11"], "eu": ["Art. 10"]},
		"namespace.environment_label": {"unmapped": "the gate's own label"},
	},
}
