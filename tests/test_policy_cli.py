"""`gatekeeper policy test` and `gatekeeper policy impact`, as a compliance team runs them:
the real pinned OPA and Regal, and a real git repository holding the policies."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import EVIDENCE, MANIFESTS, POLICIES, require_tool, run_cli

MATRIX = Path("policies/gatekeeper/matrix/requirements.yaml")
# Objects whose decisions the change below flips either way, and one it leaves alone.
MANIFEST_ARGS = [str(MANIFESTS / "compliant"), str(MANIFESTS / "noncompliant" / "monitoring-credit-scoring-10.yaml"),
                 str(MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml")]


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.fixture(autouse=True)
def tools():
    require_tool("opa")
    require_tool("regal")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=Compliance", "-c", "user.email=c@example.com",
                           *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git repository whose first commit holds this project's policies."""
    root = tmp_path / "repo"
    shutil.copytree(POLICIES, root / "policies")
    git(tmp_path, "init", "-q", "-b", "main", str(root))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "policies as they are")
    return root


def change_matrix(repo: Path) -> None:
    """Limited models need a demographic parity ratio of 0.90 (churn-predictor has 0.88);
    high models no longer need drift monitoring (credit-scoring@10 has it disabled)."""
    path = repo / MATRIX
    text = path.read_text()
    limited = "fairness: {demographic_parity_ratio_min: 0.80, favourable_outcome_required: true}"
    assert limited in text and "monitoring: {required: true}" in text
    path.write_text(text.replace(limited, limited.replace("0.80", "0.90"))
                        .replace("monitoring: {required: true}", "monitoring: {required: false}"))


# --- policy test ---------------------------------------------------------------------------


def test_policy_test_passes_on_the_project_policies():
    result = run_cli("policy", "test")
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "PASS  opa check --strict" in lines
    assert "PASS  matrix: no retired settings" in lines
    assert "PASS  opa test: every test passed" in lines
    coverage = next(line for line in lines if line.startswith("PASS  coverage "))
    assert float(coverage.split()[2].rstrip("%")) >= 90
    assert "PASS  regal lint: no violations" in lines


def test_policy_test_fails_on_failing_tests_and_lint(tmp_path):
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    path = folder / "gatekeeper" / "matrix" / "requirements.yaml"
    path.write_text(path.read_text().replace("demographic_parity_ratio_min: 0.80\n", "demographic_parity_ratio_min: 0.95\n"))
    (folder / "gatekeeper" / "extra.rego").write_text("package gatekeeper\n\nextra = 1\n")
    result = run_cli("policy", "test", "--policy-dir", str(folder))
    assert result.code == 1
    assert "PASS  opa check --strict" in result.stdout
    # a threshold change fails the shipped policy's expectations only (the mechanics pin their own matrix)
    assert "FAIL  opa test: the shipped policy's expectations changed (" in result.stdout
    assert "test_compliant_bundles_are_admitted_everywhere" in result.stdout
    assert "a mechanism is broken" not in result.stdout
    assert "FAIL  regal lint: " in result.stdout and "style/use-assignment-operator" in result.stdout
    assert f"{folder / 'gatekeeper' / 'extra.rego'}:3:" in result.stdout


def test_policy_test_enforces_the_coverage_floor():
    result = run_cli("policy", "test", "--min-coverage", "100")
    assert result.code == 1
    assert any(line.startswith("FAIL  coverage ") and line.endswith("(required 100%)") for line in result.stdout.splitlines())


def test_policy_test_without_a_tool_exits_2():
    result = run_cli("policy", "test", "--policy-dir", str(POLICIES), env={"GATEKEEPER_REGAL_BINARY": "/nonexistent/regal"})
    assert result.code == 2
    assert "cannot run /nonexistent/regal" in one_line(result.stderr)


# --- policy impact -------------------------------------------------------------------------


def test_impact_of_no_change_is_none(repo):
    # No manifests named: the examples (run from the project root).
    result = run_cli("policy", "impact", "--base", "HEAD", "--policy-dir", str(repo / "policies"))
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("policy impact in production: 16 objects, 15 decisions")
    assert result.stdout.rstrip().endswith("no decision changes: all 15 decisions are the same under both policy versions")


def test_impact_lists_every_decision_a_matrix_change_flips(repo):
    change_matrix(repo)
    result = run_cli("policy", "impact", "--base", "HEAD", "--policy-dir", str(repo / "policies"), *MANIFEST_ARGS)
    assert result.code == 1, result.stderr
    out = result.stdout
    commit = git(repo, "rev-parse", "HEAD")
    assert f"  base  HEAD ({commit[:12]})  sha256:" in out and "  head  working tree  sha256:" in out
    assert "ADMITTED → DENIED  Deployment/retention/churn-batch-scorer in production" in out
    assert "ADMITTED → DENIED  Model/retention/churn-predictor in production" in out
    assert "  + fairness.demographic_parity_ratio churn-predictor@7: demographic parity ratio for 'region' is 0.88, below 0.90" in out
    assert "DENIED → ADMITTED  InferenceService/lending/credit-scoring-v10 in production" in out
    assert "  - monitoring.required credit-scoring@10: " in out
    assert "credit-scoring-v4" not in out and "InferenceService/lending/credit-scoring " not in out
    assert out.rstrip().splitlines()[-1] == (
        "3 of 5 decisions change: 2 admitted → denied, 1 denied → admitted, 0 with other violations")


def test_impact_json_between_two_commits_in_two_environments(repo):
    change_matrix(repo)
    git(repo, "commit", "-q", "-am", "tighten limited fairness, drop high monitoring")
    result = run_cli("policy", "impact", "--base", "HEAD~1", "--head", "HEAD", "--policy-dir", str(repo / "policies"),
                     "-e", "staging,production", "--format", "json", *MANIFEST_ARGS)
    assert result.code == 1, result.stderr
    document = result.json()
    assert document["base"]["rev"] == "HEAD~1" and document["head"]["rev"] == "HEAD"
    assert document["base"]["commit"] == git(repo, "rev-parse", "HEAD~1")
    assert document["base"]["policy_revision"] != document["head"]["policy_revision"]
    assert (document["objects"], document["decisions"], document["changed"]) == (6, 10, 6)
    changes = {(c["environment"], c["object"]["name"]): c for c in document["changes"]}
    assert changes[("production", "churn-predictor")]["change"] == "admitted_to_denied"
    assert [v["requirement"] for v in changes[("production", "churn-predictor")]["new_violations"]] == [
        "fairness.demographic_parity_ratio"]
    assert changes[("production", "credit-scoring-v10")]["change"] == "denied_to_admitted"
    assert changes[("production", "credit-scoring-v10")]["before"]["violations"] == ["monitoring.required"]
    assert changes[("production", "credit-scoring-v10")]["after"] == {
        "allowed": True, "enforcement": "deny", "error": None, "violations": [], "waived": []}
    # Staging warns either way: the violations change, the admission does not.
    assert changes[("staging", "churn-predictor")]["change"] == "violations_changed"
    assert changes[("staging", "churn-predictor")]["after"]["allowed"] is True
    assert changes[("production", "churn-predictor")]["source"]["file"].endswith("churn-predictor-seldon-model.yaml")


def test_impact_of_an_unknown_revision(repo):
    result = run_cli("policy", "impact", "--base", "no-such-branch", "--policy-dir", str(repo / "policies"), *MANIFEST_ARGS)
    assert result.code == 2
    assert "unknown git revision 'no-such-branch'" in one_line(result.stderr)


def test_impact_of_a_revision_without_the_policies(repo):
    git(repo, "commit", "-q", "--allow-empty", "-m", "empty")
    (repo / "elsewhere").mkdir()
    shutil.move(str(repo / "policies"), str(repo / "elsewhere" / "policies"))
    result = run_cli("policy", "impact", "--base", "HEAD", "--policy-dir", str(repo / "elsewhere" / "policies"), *MANIFEST_ARGS)
    assert result.code == 2
    assert "elsewhere/policies at HEAD: " in one_line(result.stderr)


def test_impact_outside_a_git_repository(tmp_path):
    shutil.copytree(POLICIES, tmp_path / "policies")
    result = run_cli("policy", "impact", "--base", "HEAD", "--policy-dir", str(tmp_path / "policies"), *MANIFEST_ARGS)
    assert result.code == 2
    assert "is not in a git repository" in one_line(result.stderr)


def test_impact_reports_bad_input_and_still_compares_the_rest(repo, tmp_path):
    change_matrix(repo)
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    result = run_cli("policy", "impact", "--base", "HEAD", "--policy-dir", str(repo / "policies"),
                     "--evidence", str(EVIDENCE), str(tmp_path / "bad.yaml"), str(MANIFESTS / "compliant"))
    assert result.code == 2
    assert f"{tmp_path / 'bad.yaml'}:" in one_line(result.stderr)
    assert "ADMITTED → DENIED  Model/retention/churn-predictor in production" in result.stdout
