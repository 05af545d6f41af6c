"""The regulation map (policies/gatekeeper/regulations/): what each requirement serves,
shown by `check`, carried into PolicyReport results, answered per risk class and
environment by `policy coverage`, and refused by `policy test` when an ID is unmapped or
unknown. The real OPA and Regal, through the CLI as a user runs it."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from gatekeeper.auditor.policyreports import results_of
from gatekeeper.types.decision import Decision

from .conftest import MANIFESTS, POLICIES, require_tool, run_cli

UNFAIR = str(MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml")


@pytest.fixture(scope="module", autouse=True)
def tools():
    require_tool("opa")
    require_tool("regal")


@pytest.fixture(scope="module")
def unfair(opa_url) -> dict:
    """The decision about the example credit-scoring@4, whose fairness fails."""
    done = run_cli("check", UNFAIR, "--opa-url", opa_url, "--environment", "production", "--format", "json")
    assert done.code == 1, done.stderr
    [decision] = done.json()["results"]
    return decision


def test_check_json_and_table_show_what_a_violation_serves(unfair, cli):
    [ratio] = [v for v in unfair["violations"] if v["requirement"] == "fairness.demographic_parity_ratio"]
    assert ratio["references"] == [
        {"text": "eu_ai_act", "id": "Art. 10", "label": "EU AI Act Art. 10", "title": "Data and data governance",
         "version": "Regulation (EU) 2024/1689"},
        {"text": "iso_42001", "id": "A.5.4", "label": "ISO/IEC 42001 A.5.4",
         "title": "Assessing AI system impact on individuals or groups of individuals", "version": "ISO/IEC 42001:2023"},
        {"text": "nist_ai_rmf", "id": "MEASURE 2.11", "label": "NIST AI RMF MEASURE 2.11", "title": "Fairness and bias",
         "version": "NIST AI 100-1 (2023)"},
    ]
    table = cli("check", UNFAIR, "--environment", "production")
    assert "      serves: EU AI Act Art. 10; ISO/IEC 42001 A.5.4; NIST AI RMF MEASURE 2.11\n" in table.stdout


def test_policy_report_results_carry_the_references_as_a_string_property(unfair):
    results = results_of(Decision.model_validate(unfair), datetime(2026, 12, 1, tzinfo=timezone.utc))
    [failed] = [r for r in results if r["policy"] == "fairness.demographic_parity_ratio"]
    assert failed["properties"]["references"] == "EU AI Act Art. 10; ISO/IEC 42001 A.5.4; NIST AI RMF MEASURE 2.11"
    # the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) types result properties as a map of strings
    assert all(isinstance(value, str) for r in results for value in r["properties"].values())
    assert all("references" not in r["properties"] for r in results if r["result"] == "pass")


def test_coverage_names_the_articles_no_enforced_requirement_serves():
    done = run_cli("policy", "coverage", "--risk-class", "high", "--environment", "production", "--format", "json")
    assert done.code == 0, done.stderr
    [cell] = done.json()["cells"]
    assert (cell["risk_class"], cell["environment"], cell["enforcement"]) == ("high", "production", "deny")
    eu = next(t for t in cell["texts"] if t["text"] == "eu_ai_act")
    assert eu["version"] == "Regulation (EU) 2024/1689"
    served = {r["id"]: r["requirements"] for r in eu["served"]}
    assert "fairness.demographic_parity_ratio" in served["Art. 10"] and served["Art. 72"] == [
        "drift.drift_share", "drift.missing", "evidence.stale", "monitoring.required"]
    # record-keeping and log retention are the gate's own log's business, not a model requirement
    assert [r["id"] for r in eu["unserved"]] == ["Art. 12", "Art. 19", "Art. 26(6)"]

    table = run_cli("policy", "coverage", "--risk-class", "minimal", "--environment", "development")
    assert table.code == 0, table.stderr
    assert table.stdout.startswith("minimal in development (dryrun): ")
    assert "    no requirement: Art. 14 Human oversight\n" in table.stdout  # minimal: no sign-off


def test_coverage_refuses_an_unknown_class_or_environment_in_one_line():
    for option, value, known in (("--risk-class", "severe", "minimal, limited, high, prohibited"),
                                 ("--environment", "qa", "development, production, staging")):
        done = run_cli("policy", "coverage", option, value)
        assert done.code == 2
        [line] = [line for line in done.stderr.splitlines() if not line.startswith("gatekeeper: policies from")]
        assert line == f"gatekeeper: unknown {option[2:].replace('-', ' ')} '{value}' (known: {known})"


def copy_with_map(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(POLICIES, folder)
    regulations = folder / "gatekeeper" / "regulations" / "map.yaml"
    text = regulations.read_text()
    assert text.count(old) == 1, old
    regulations.write_text(text.replace(old, new))
    return folder


@pytest.mark.parametrize("name, old, new, problem", [
    ("unmapped", "  drift:\n    eu_ai_act: [Art. 15, Art. 72]\n", "  drift:\n",
     "{map}: requirement 'drift.drift_share' (family 'drift', {folder}/gatekeeper/requirements/drift.rego) serves no "
     "reference: map it under families.drift or requirements.drift.drift_share, or say why not (unmapped: ...)"),
    ("unknown", "requirements:\n", "requirements:\n  fairness.parity:\n    eu_ai_act: [Art. 10]\n",
     "{map}: requirements.fairness.parity: no family raises 'fairness.parity'"),
])
def test_the_gate_refuses_an_unmapped_or_unknown_id_by_name_and_file(tmp_path: Path, name, old, new, problem):
    """The lint `policy test` runs is the one the gate's start runs: checked here through
    `check` (its own OPA on the copy), which refuses the policy in one line."""
    # without drift's EU AI Act references and its other texts, drift's IDs serve nothing
    if name == "unmapped":
        old, new = old + "    iso_42001: [A.6.2.6]\n    nist_ai_rmf: [MEASURE 2.4, MANAGE 4.1]\n", new
    folder = copy_with_map(tmp_path, name, old, new)
    done = run_cli("check", "--policy-dir", str(folder), str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert done.code == 2
    refused = [line for line in done.stderr.splitlines() if "policy refused" in line]
    expected = problem.format(map=f"{folder}/gatekeeper/regulations/map.yaml", folder=folder)
    assert len(refused) == 1 and refused[0].startswith(f"gatekeeper: policy refused: {expected}"), refused
