"""Evidence that cannot be true is refused (issue 26): each finding as an author would write
it, as text in a copy of the example evidence, through `gatekeeper check --environment
production` against the real OPA."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import EVIDENCE, MANIFESTS

COMPLIANT = MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"  # credit-scoring 3
FAIRNESS_4 = MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml"

DRIFT = """drift:
  method: evidently DataDriftPreset
  dataset_drift: false
  drift_share: 0.1
  drifted_columns: [income]
  columns: 10
  evaluated_at: '2026-11-20T00:00:00Z'
"""


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    folder = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, folder)
    return folder


def bundle(evidence: Path, version: str) -> Path:
    return evidence / "credit-scoring" / version / "evidence.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path}"
    path.write_text(text.replace(old, new))


def check(cli, evidence: Path, manifest: Path = COMPLIANT):
    return cli("check", "--environment", "production", "--format", "json", "--evidence", str(evidence), str(manifest))


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def refused(cli, evidence: Path, version: str = "3", manifest: Path = COMPLIANT) -> str:
    """The one stderr line of a check whose evidence is refused; the report denies it as unreadable."""
    result = check(cli, evidence, manifest)
    assert result.code == 2, result.stdout + result.stderr
    [decision] = result.json()["results"]
    assert decision["allowed"] is False
    assert [v["requirement"] for v in decision["violations"]] == ["evidence.unreadable"]
    line = one_line(result.stderr)
    # Messages name the file as the evidence folder holds it, never the server's path.
    assert str(bundle(evidence, version).relative_to(evidence)) in line
    assert str(evidence) not in line
    assert decision["violations"][0]["message"] in line
    return line


def denied_for(cli, evidence: Path, manifest: Path = COMPLIANT) -> dict[str, list[str]]:
    result = check(cli, evidence, manifest)
    assert result.code == 1, result.stdout + result.stderr
    [decision] = result.json()["results"]
    found: dict[str, list[str]] = {}
    for violation in decision["violations"]:
        found.setdefault(violation["requirement"], []).append(violation["message"])
    return found


# --- duplicate keys ------------------------------------------------------------------------


def test_a_second_fairness_block_is_refused_not_read_last_wins(cli, evidence):
    path = bundle(evidence, "4")
    path.write_text(path.read_text() + """fairness:
  sex:
    demographic_parity_ratio: 0.95
    demographic_parity_difference: 0.02
    equalized_odds_difference: 0.03
    min_group_size: 1200
""")
    line = refused(cli, evidence, "4", FAIRNESS_4)
    assert "duplicate key 'fairness'" in line and "first at line" in line
    assert "a key may appear only once in a mapping" in line


def test_a_trailing_risk_class_is_refused(cli, evidence):
    path = bundle(evidence, "3")
    path.write_text(path.read_text() + "risk_class: minimal\n")
    line = refused(cli, evidence)
    assert "duplicate key 'risk_class'" in line


def test_a_duplicate_inside_a_section_is_refused(cli, evidence):
    edit(bundle(evidence, "3"), "  open_findings: 0\n", "  open_findings: 4\n  open_findings: 0\n")
    assert "duplicate key 'open_findings'" in refused(cli, evidence)


def test_a_duplicate_alias_is_refused(cli, evidence):
    aliases = evidence / "churn-predictor" / "aliases.yaml"
    aliases.write_text(aliases.read_text() + "champion: '6'\n")
    result = check(cli, evidence, MANIFESTS / "compliant" / "churn-predictor-deployment.yaml")
    assert result.code == 2
    assert "duplicate key 'champion'" in one_line(result.stderr) and str(aliases.relative_to(evidence)) in result.stderr


# --- values that cannot be true ------------------------------------------------------------


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("    demographic_parity_ratio: 0.91\n", "    demographic_parity_ratio: 4.0\n",
     "field 'fairness.sex.demographic_parity_ratio': 4.0 is out of range (less than or equal to 1)"),
    ("    demographic_parity_difference: 0.04\n", "    demographic_parity_difference: -0.45\n",
     "field 'fairness.sex.demographic_parity_difference': -0.45 is out of range (greater than or equal to 0)"),
    ("    demographic_parity_ratio: 0.91\n", "    demographic_parity_ratio: .nan\n",
     "field 'fairness.sex.demographic_parity_ratio': nan is not a finite number"),
    ("    auc: 0.87\n", "    auc: .inf\n", "field 'performance.metrics.auc': inf is not a finite number"),
    ("  open_findings: 0\n", "  open_findings: -3\n",
     "field 'pii_scan.open_findings': -3 is out of range (greater than or equal to 0)"),
    ("  open_findings: 0\n", "  open_findings: 0\n  entities: {US_SSN: 12, EMAIL_ADDRESS: 4}\n",
     "field 'pii_scan': open_findings is 0 but entities count 16 (US_SSN 12, EMAIL_ADDRESS 4): open_findings "
     "must be the sum of the entity counts"),
    ("  success: true\n  success_percent: 100.0\n  evaluated_expectations: 12\n  failed: []\n",
     "  success: false\n  success_percent: 100.0\n  evaluated_expectations: 12\n"
     "  failed: [expect_column_values_to_not_be_null(income)]\n",
     "field 'data_quality': success_percent is 100 but success is false with 1 failed expectation(s)"),
    ("  success_percent: 100.0\n", "  success_percent: 250\n",
     "field 'data_quality.success_percent': 250 is out of range (less than or equal to 100)"),
    ("  evaluated_expectations: 12\n", "  evaluated_expectations: 0\n",
     "field 'data_quality': evaluated_expectations is 0: a suite that evaluated no expectation shows nothing"),
    ("  success: true\n  success_percent: 100.0\n", "  success: false\n  success_percent: 91.0\n",
     "field 'data_quality': success_percent 91 of 12 evaluated expectations does not match 0 failed"),
    ("  scanned_at: '2026-10-01T00:00:00Z'\n", "  scanned_at: 'last week'\n",
     "field 'pii_scan.scanned_at': 'last week' is not an RFC 3339 time"),
    ("    demographic_parity_difference: 0.04\n", "    demographic_parity_difference: 0.40\n",
     "demographic_parity_difference 0.4 cannot come with demographic_parity_ratio 0.91"),
], ids=["ratio-4", "negative-difference", "ratio-nan", "metric-inf", "negative-findings", "findings-vs-entities",
        "success-false-at-100", "percent-250", "nothing-evaluated", "percent-vs-failed", "time-not-rfc3339",
        "ratio-vs-difference"])
def test_impossible_values_are_unreadable(cli, evidence, old, new, expected):
    edit(bundle(evidence, "3"), old, new)
    assert expected in refused(cli, evidence)


@pytest.mark.parametrize(("drift", "expected"), [
    (DRIFT.replace("dataset_drift: false", "dataset_drift: true").replace("drift_share: 0.1", "drift_share: .nan"),
     "field 'drift.drift_share': nan is not a finite number"),
    (DRIFT.replace("drift_share: 0.1", "drift_share: -0.9"),
     "field 'drift.drift_share': -0.9 is out of range (greater than or equal to 0)"),
    (DRIFT.replace("drift_share: 0.1", "drift_share: 0.0"),
     "field 'drift': drift_share 0 of 10 columns does not match the 1 drifted_columns"),
    (DRIFT.replace("dataset_drift: false", "dataset_drift: true").replace("drift_share: 0.1", "drift_share: 0")
     .replace("drifted_columns: [income]", "drifted_columns: []"),
     "field 'drift': dataset_drift is true but drift_share is 0"),
    (DRIFT.replace("drift_share: 0.1", "drift_share: 1.0").replace("  columns: 10\n", ""),
     "field 'drift': dataset_drift is false but drift_share is 1"),
], ids=["nan-share-with-drift", "negative-share", "share-vs-columns", "drift-without-share", "all-drifted-no-drift"])
def test_drift_that_contradicts_itself_is_unreadable(cli, evidence, drift, expected):
    path = bundle(evidence, "3")
    path.write_text(path.read_text() + drift)
    assert expected in refused(cli, evidence)


def test_a_consistent_drift_result_is_read(cli, evidence):
    path = bundle(evidence, "3")
    path.write_text(path.read_text() + DRIFT)
    result = check(cli, evidence)
    assert result.code == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("section", "old", "new"), [
    ("pii_scan.scanned_at", "  scanned_at: '2026-10-01T00:00:00Z'\n", "  scanned_at: '2099-01-01T00:00:00Z'\n"),
    ("data_quality.evaluated_at", "  evaluated_at: '2026-10-01T00:00:00Z'\n  dataset_digest",
     "  evaluated_at: '2099-01-01T00:00:00Z'\n  dataset_digest"),
])
def test_a_measurement_dated_in_the_future_is_unreadable(cli, evidence, section, old, new):
    edit(bundle(evidence, "3"), old, new)
    messages = denied_for(cli, evidence)["evidence.unreadable"]
    assert len(messages) == 1
    assert messages[0].startswith(f"{section} 2099-01-01T00:00:00Z is later than now (")
    assert "plus the allowed clock skew of 300 seconds" in messages[0]


def test_drift_dated_in_the_future_is_unreadable_and_at_moves_now(cli, evidence):
    path = bundle(evidence, "3")
    path.write_text(path.read_text() + DRIFT.replace("2026-11-20T00:00:00Z", "2099-01-01T00:00:00Z"))
    assert "drift.evaluated_at 2099-01-01T00:00:00Z" in denied_for(cli, evidence)["evidence.unreadable"][0]
    # The time checked against is the decision's: as of 2099-01-02 the result is a day old.
    later = cli("check", "--environment", "production", "--format", "json", "--evidence", str(evidence),
                "--at", "2099-01-02T00:00:00Z", str(COMPLIANT))
    assert "evidence.unreadable" not in {v["requirement"] for v in later.json()["results"][0]["violations"]}


# --- lineage placeholders and required sensitive attributes --------------------------------


@pytest.mark.parametrize(("old", "new", "requirement", "message"), [
    ("  run_id: cb20bb32e5816342fa25f820f16e8142\n", "  run_id: n/a\n", "lineage.run_id",
     "lineage.run_id is 'n/a', a placeholder, not a recorded value"),
    ("  code_commit: b8e6b0e8e13b370f19c601d0bd13cc92ea92183e\n", "  code_commit: TODO\n", "lineage.code_commit",
     "lineage.code_commit is 'TODO', a placeholder, not a recorded value"),
    ("    digest: sha256:37be2760315ca7110de7823be7691b6c87a6756ede84d3773526cc9175c02518\n    context: training\n",
     "    digest: unknown\n    context: training\n", "lineage.training_dataset_digest",
     "the evidence lists no training dataset (context: training) with a digest "
     "(digest of 'loans-2025q4' is 'unknown', a placeholder)"),
], ids=["run-id", "code-commit", "dataset-digest"])
def test_lineage_placeholders_are_not_facts(cli, evidence, old, new, requirement, message):
    edit(bundle(evidence, "3"), old, new)
    assert denied_for(cli, evidence)[requirement] == [message]


def test_leaving_out_the_failing_sensitive_attribute_is_fairness_missing(cli, evidence):
    edit(bundle(evidence, "4"), """  sex:
    demographic_parity_ratio: 0.62
    demographic_parity_difference: 0.04
    equalized_odds_difference: 0.05
    min_group_size: 1200
    favourable_outcome: '0'
    evaluated_at: '2026-11-20T00:00:00Z'
""", "")
    assert denied_for(cli, evidence, FAIRNESS_4)["fairness.missing"] == [
        "the evidence has no fairness results for 'sex', which the requirement matrix requires for credit-scoring"]


def test_the_explainability_report_with_a_duplicate_key_is_not_feature_importance(cli, evidence):
    report = evidence / "credit-scoring" / "3" / "shap-importance.json"
    text = report.read_text()
    data = json.loads(text)
    assert isinstance(data, dict)
    report.write_text(text.rstrip().rstrip("}") + ', "global_importance": {"income": 1.0}}\n')
    messages = denied_for(cli, evidence)["explainability.report_format"]
    assert any("duplicate key 'global_importance'" in message for message in messages)
