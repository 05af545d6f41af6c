# Builders for test inputs (used by the *_test.rego files only). Everything here is
# compliant by default: tests change one thing and look at what that breaks.
package gatekeeper.testdata

# METADATA
# description: the five classes every requirement is tested at
classes := ["prohibited", "high", "limited", "minimal", "unclassified"]

now := "2026-11-22T08:00:00Z"

later := "2027-03-30T00:00:00Z"

earlier := "2026-01-01T00:00:00Z"

digest := "sha256:3b1f6c0c5d2a4e8f9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"

# METADATA
# description: |
#   The example signers of signers.yaml: alice (validator) and bob (compliance). Their
#   key IDs are read from the data, so the tests survive a key rotation.
alice := person("alice@example.com")

bob := person("bob@example.com")

person(name) := {"name": name, "keyid": signer.keys[0].keyid} if {
	some signer in data.gatekeeper.signers.signers
	signer.name == name
}

# METADATA
# description: |
#   An evidence bundle meeting every requirement of every class (for the class
#   unclassified: no risk_class).
evidence(class) := object.remove(bundle(class), ["risk_class"]) if {
	class == "unclassified"
} else := bundle(class)

bundle(class) := {
	"apiVersion": "model-gatekeeper.io/v1",
	"kind": "EvidenceBundle",
	"model": "credit-scoring",
	"version": "3",
	"risk_class": class,
	"owner": alice.name,
	"artifact": {"uri": "s3://models/credit-scoring/3", "digest": digest},
	"model_card": {"path": "model-card.md", "sections": {
		"intended_use": "Scoring consumer credit applications.",
		"limitations": "Not for business loans.",
		"training_data": "Loans 2021-2025.",
		"evaluation": "AUC 0.87 on the 2025Q4 hold-out.",
		"ethics": "Reviewed by the ethics board.",
	}},
	"lineage": {
		"run_id": "4f1c2a",
		"code_commit": "9e2d7b",
		"datasets": [{"name": "loans-2025q4", "digest": "sha256:aa", "context": "training"}],
	},
	"performance": {"metrics": {"auc": 0.87}},
	"fairness": {
		"sex": {
			"demographic_parity_ratio": 0.91, "demographic_parity_difference": 0.04,
			"equalized_odds_difference": 0.05, "min_group_size": 1200,
			"favourable_outcome": "0", "evaluated_at": "2026-11-20T00:00:00Z",
		},
		"age_band": {
			"demographic_parity_ratio": 0.85, "demographic_parity_difference": 0.06,
			"equalized_odds_difference": 0.07, "min_group_size": 300,
			"favourable_outcome": "0", "evaluated_at": "2026-11-20T00:00:00Z",
		},
	},
	"explainability": {"method": "shap", "report": "shap-importance.json", "report_present": true},
	"pii_scan": {
		"tool": "presidio", "scanned_at": "2026-10-01T00:00:00Z",
		"dataset_digest": "sha256:aa", "open_findings": 0,
	},
	"monitoring": {"drift": "enabled", "dashboard": "https://grafana.example.com/d/credit"},
	"data_quality": {
		"tool": "great_expectations", "suite": "loans", "success": true, "success_percent": 100,
		"evaluated_expectations": 12, "failed": [], "evaluated_at": "2026-11-20T00:00:00Z",
	},
	"signoffs": ["signoffs/validator.dsse.json", "signoffs/compliance.dsse.json", "signoffs/owner.dsse.json"],
	"waivers": [],
}

# METADATA
# description: |
#   a measured drift result within every class's limits (the compliant bundle has none:
#   without one, a bundle is judged on its declared monitoring)
drift_result := {
	"tool": "evidently", "method": "DataDriftPreset", "dataset_drift": false, "drift_share": 0.1,
	"drifted_columns": ["income"], "columns": 10, "evaluated_at": "2026-11-20T00:00:00Z",
}

# METADATA
# description: |
#   The section digests of the test model's evidence (Python computes them from the
#   bundle; the fixtures' stand-ins do not change when a test edits the evidence).
sections := {
	"risk_class": "sha256:01", "owner": "sha256:02", "artifact": "sha256:03", "artifacts": "sha256:04",
	"model_card": "sha256:05", "lineage": "sha256:06", "performance": "sha256:07", "fairness": "sha256:08",
	"explainability": "sha256:09", "pii_scan": "sha256:0a", "data_quality": "sha256:0b", "drift": "sha256:0c",
	"monitoring": "sha256:0d",
}

# METADATA
# description: what a sign-off of the test model covers (every section but drift, and the artifact location)
reviewed := {"artifact_uri": "s3://models/credit-scoring/3", "sections": object.remove(sections, ["drift"])}

# METADATA
# description: a valid sign-off of credit-scoring 3 for role by person ({name, keyid})
signoff(role, person) := {
	"source": sprintf("signoffs/%s.dsse.json", [role]),
	"signature_valid": true,
	"error": null,
	"keyid": person.keyid,
	"subject_digests": [digest],
	"subjects": [{"name": "models:/credit-scoring/3", "digest": digest}],
	"predicate_type": "https://model-gatekeeper.io/signoff/v1",
	"predicate": {
		"model": "credit-scoring", "version": "3", "role": role, "signer": person.name,
		"signed_at": "2026-10-01T00:00:00Z", "expires_at": later, "reviewed": reviewed,
	},
}

# METADATA
# description: a valid waiver of requirement for credit-scoring 3, approved by bob (compliance)
waiver(requirement) := waiver_by(requirement, bob)

waiver_by(requirement, approver) := {
	"source": sprintf("waivers/%s.dsse.json", [requirement]),
	"signature_valid": true,
	"error": null,
	"keyid": approver.keyid,
	"subject_digests": [digest],
	"subjects": [
		{"name": "models:/credit-scoring/3", "digest": digest},
		{"name": "models:/credit-scoring/4", "digest": digest},
	],
	"predicate_type": "https://model-gatekeeper.io/waiver/v1",
	"predicate": {
		"requirement": requirement, "model": "credit-scoring", "versions": ["3", "4"],
		"reason": "mitigation under way", "approver": approver.name,
		"signed_at": "2026-10-01T00:00:00Z", "expires_at": later,
	},
}

# METADATA
# description: a model entry of class with compliant evidence and all sign-offs
model(class) := {
	"ref": "models:/credit-scoring/3",
	"name": "credit-scoring",
	"version": "3",
	"alias": null,
	"declared_risk_class": null,
	"storage_uri": "s3://models/credit-scoring/3",
	"evidence_error": null,
	"evidence": evidence(class),
	"sections": sections,
	"signoffs": signoffs,
	"waivers": [],
}

# METADATA
# description: the sign-offs every test model carries (validator, compliance, owner)
signoffs := [signoff("validator", alice), signoff("compliance", bob), signoff("owner", alice)]

# METADATA
# description: model(class) deep-merged with patch, e.g. an evidence field set to another value
model_with(class, patch) := object.union(model(class), patch)

# METADATA
# description: model(class) without the fields at paths, e.g. evidence/model_card
model_without(class, paths) := json.remove(model(class), paths)

# METADATA
# description: |
#   Stands in for lib.register_entry in tests that judge a fixture at each class
#   (`with lib.register_entry as td.registered`): the register classifies each input
#   model as its evidence does, and knows none without a risk_class ("unclassified").
registered(name) := {
	"model": name, "risk_class": class,
	"decided_by": "model-risk-committee@example.com", "decided_at": "2026-09-15",
} if {
	some model in input.models
	model.name == name
	class := model.evidence.risk_class
} else := null

# METADATA
# description: an input document for models, in production
input_of(models) := input_in("production", models)

input_in(environment, models) := {
	"now": now,
	"environment": environment,
	"operation": "CREATE",
	"object": {
		"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
		"namespace": "lending", "name": "credit-scoring",
	},
	"models": models,
	"reference_errors": [],
}

# METADATA
# description: the input for one compliant model of class
input_for(class) := input_of([model(class)])

# METADATA
# description: the requirement IDs of a set of violations
ids(violations) := {v.requirement | some v in violations}

# METADATA
# description: ids when class is one of the classes a requirement applies to, otherwise none
expect(class, applies_to, ids) := ids if {
	class in applies_to
} else := set()
