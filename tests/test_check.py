"""`gatekeeper check`: the CLI front door, run as a real process against a real OPA."""

import shutil

import pytest
import yaml

from .conftest import EVIDENCE, MANIFESTS, run_cli

NONCOMPLIANT = {
    "fairness-credit-scoring-4.yaml": "fairness.demographic_parity_ratio",
    "documentation-credit-scoring-5.yaml": "documentation.model_card_section",
    "lineage-credit-scoring-6.yaml": "lineage.code_commit",
    "explainability-credit-scoring-7.yaml": "explainability.report",
    "pii-credit-scoring-8.yaml": "pii.open_findings",
    "signoff-credit-scoring-9.yaml": "signoff.role",
    "monitoring-credit-scoring-10.yaml": "monitoring.required",
    "performance-credit-scoring-11.yaml": "performance.metric",
    "classification-credit-scoring-12.yaml": "classification.prohibited",
    "evidence-missing.yaml": "evidence.missing",
    "evidence-no-model-reference.yaml": "evidence.model_reference",
    "artifact-storage-mismatch.yaml": "artifact.storage_uri_mismatch",
}


def test_compliant_examples_exit_0_with_no_other_flag():
    # As the README promises: no --opa-url, the CLI starts and stops its own OPA.
    result = run_cli("check", "--evidence", "examples/evidence", "examples/manifests/compliant")
    assert result.code == 0, result.stdout + result.stderr
    assert "3 checked, 3 admitted, 0 denied" in result.stdout


def test_every_noncompliant_example_is_covered():
    assert sorted(p.name for p in (MANIFESTS / "noncompliant").iterdir()) == sorted(NONCOMPLIANT)


@pytest.mark.parametrize("manifest, requirement", sorted(NONCOMPLIANT.items()))
def test_each_noncompliant_example_fails_for_its_one_reason(cli, manifest, requirement):
    result = cli("check", "--format", "json", str(MANIFESTS / "noncompliant" / manifest))
    assert result.code == 1, result.stderr
    report = result.json()
    assert report["allowed"] is False
    [decision] = report["results"]
    assert decision["allowed"] is False and decision["enforcement"] == "deny"
    assert {v["requirement"] for v in decision["violations"]} == {requirement}
    assert decision["policy_revision"].startswith("sha256:")
    assert all(v["remediation"] for v in decision["violations"])


def test_table_tells_a_person_what_to_fix(cli):
    result = cli("check", str(MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml"))
    assert result.code == 1
    out = result.stdout
    assert "DENIED InferenceService/lending/credit-scoring-v4" in out
    assert "credit-scoring@4" in out and "risk class: high" in out
    assert "[fairness.demographic_parity_ratio]" not in out  # the table form, not the admission one-liner
    assert "fairness.demographic_parity_ratio credit-scoring@4: demographic parity ratio for 'sex' is 0.62" in out
    assert "observed: 0.62   threshold: 0.8" in out
    assert "fix: " in out


def test_staging_admits_with_warnings_and_development_records_only(cli):
    path = str(MANIFESTS / "noncompliant" / "pii-credit-scoring-8.yaml")
    staging = cli("check", "-e", "staging", "--format", "json", path)
    assert staging.code == 0
    [decision] = staging.json()["results"]
    assert decision["allowed"] and decision["enforcement"] == "warn"
    assert any(w.startswith("[pii.open_findings] credit-scoring@8: ") for w in decision["warnings"])
    development = cli("check", "-e", "development", "--format", "json", path)
    [decision] = development.json()["results"]
    assert development.code == 0 and decision["enforcement"] == "dryrun"
    assert decision["violations"] and not decision["warnings"]


def test_alias_is_resolved_and_the_decision_records_the_version(cli):
    result = cli("check", "--format", "json", str(MANIFESTS / "compliant" / "churn-predictor-deployment.yaml"))
    assert result.code == 0
    [decision] = result.json()["results"]
    assert decision["models"][0]["version"] == "7"
    assert result.json()["skipped"][0]["object"]["name"] == "feature-api"


def test_stdin_and_multi_document_input(cli):
    text = "\n---\n".join(p.read_text() for p in sorted((MANIFESTS / "compliant").iterdir()))
    result = cli("check", "--format", "json", "-", stdin=text)
    assert result.code == 0
    assert len(result.json()["results"]) == 3


def test_risk_class_annotation_raises_but_never_lowers(cli, tmp_path):
    manifest = yaml.safe_load((MANIFESTS / "compliant" / "churn-predictor-seldon-model.yaml").read_text())
    manifest["metadata"]["annotations"]["model-gatekeeper.io/risk-class"] = "high"
    (tmp_path / "raised.yaml").write_text(yaml.safe_dump(manifest))
    raised = cli("check", "--format", "json", str(tmp_path / "raised.yaml"))
    assert raised.code == 1
    assert raised.json()["results"][0]["models"][0]["risk_class"] == "high"
    manifest["metadata"]["annotations"]["model-gatekeeper.io/risk-class"] = "minimal"
    (tmp_path / "lowered.yaml").write_text(yaml.safe_dump(manifest))
    lowered = cli("check", "--format", "json", str(tmp_path / "lowered.yaml"))
    assert lowered.code == 0
    assert lowered.json()["results"][0]["models"][0]["risk_class"] == "limited"


# --- bad input: exit 2 and one clear line naming the file and what is wrong ---------------


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_malformed_yaml(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text("kind: InferenceService\nmetadata: [unclosed\n")
    result = cli("check", str(tmp_path / "bad.yaml"))
    assert result.code == 2
    assert f"{tmp_path / 'bad.yaml'}:" in one_line(result.stderr) and "not valid YAML" in result.stderr


def test_malformed_json(cli, tmp_path):
    (tmp_path / "bad.json").write_text('{"kind": "Model",')
    result = cli("check", str(tmp_path / "bad.json"))
    assert result.code == 2 and "not valid JSON" in one_line(result.stderr)


def test_other_files_are_still_reported_next_to_a_bad_one(cli, tmp_path):
    (tmp_path / "bad.yaml").write_text(": : :\n")
    shutil.copy(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml", tmp_path / "good.yaml")
    result = cli("check", "--format", "json", str(tmp_path))
    assert result.code == 2
    assert len(result.json()["results"]) == 1


def test_unknown_evidence_field_names_file_and_field(cli, tmp_path):
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    path = evidence / "credit-scoring" / "3" / "evidence.yaml"
    path.write_text(path.read_text().replace("owner:", "ownr:"))
    result = cli("check", "--evidence", str(evidence), str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert result.code == 2
    line = one_line(result.stderr)
    # the file relative to the --evidence folder, as every message names evidence files
    assert "credit-scoring/3/evidence.yaml: " in line and str(evidence) not in line and "'ownr': unknown field" in line


def test_missing_evidence_folder(cli, tmp_path):
    result = cli("check", "--evidence", str(tmp_path / "nope"), str(MANIFESTS / "compliant"))
    assert result.code == 2 and "does not exist" in one_line(result.stderr)


def test_model_reference_that_is_not_a_uri(cli, tmp_path):
    manifest = yaml.safe_load((MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml").read_text())
    manifest["metadata"]["annotations"]["model-gatekeeper.io/model"] = "credit-scoring:3"
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(manifest))
    result = cli("check", str(tmp_path / "m.yaml"))
    assert result.code == 2
    line = one_line(result.stderr)
    assert str(tmp_path / "m.yaml") in line and "'credit-scoring:3' is not a model URI" in line


def test_unknown_environment(cli):
    result = cli("check", "-e", "prod", str(MANIFESTS / "compliant"))
    assert result.code == 2
    assert "unknown environment 'prod'" in one_line(result.stderr) and "production" in result.stderr


def test_unknown_format(cli):
    result = cli("check", "--format", "xml", str(MANIFESTS / "compliant"))
    assert result.code == 2 and "unknown format 'xml'" in one_line(result.stderr)


def test_missing_path(cli, tmp_path):
    result = cli("check", str(tmp_path / "absent.yaml"))
    assert result.code == 2 and "no such file or folder" in one_line(result.stderr)


def test_yaml_bomb_is_refused(cli, tmp_path):
    # Billion laughs: 11 levels of 10 aliases each expand to 10^11 leaves.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]" for i in range(1, 12)]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    result = cli("check", str(tmp_path / "bomb.yaml"))
    assert result.code == 2 and "YAML bomb" in one_line(result.stderr)
