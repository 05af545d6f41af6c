"""Waivers: `gatekeeper waiver create|verify`, and what a waiver does to a decision."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from gatekeeper.opa.server import OpaServer

from .conftest import EVIDENCE, MANIFESTS, CliResult, require_tool, run_cli
from .mlflow.trust import Trust, make_trust, tamper

FAIRNESS = "fairness.demographic_parity_ratio"
V4 = MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml"
V12 = MANIFESTS / "noncompliant" / "classification-credit-scoring-12.yaml"


@pytest.fixture(scope="module")
def trust(tmp_path_factory) -> Trust:
    return make_trust(tmp_path_factory.mktemp("trust"))


@pytest.fixture(scope="module")
def opa(trust: Trust):
    server = OpaServer(trust.policy_dir, binary=require_tool("opa"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def evidence(tmp_path) -> Path:
    shutil.copytree(EVIDENCE, tmp_path / "evidence")
    return tmp_path / "evidence"


def digest_of(evidence: Path, version: str) -> str:
    return yaml.safe_load((evidence / "credit-scoring" / version / "evidence.yaml").read_text())["artifact"]["digest"]


def attach(evidence: Path, version: str, name: str, content: bytes) -> str:
    """Put a waiver next to the bundle and list it in evidence.yaml."""
    folder = evidence / "credit-scoring" / version
    rel = f"waivers/{name}"
    (folder / "waivers").mkdir(exist_ok=True)
    (folder / rel).write_bytes(content)
    path = folder / "evidence.yaml"
    data = yaml.safe_load(path.read_text())
    data["waivers"] = [*data.get("waivers", []), rel]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return rel


def create(trust: Trust, evidence: Path, *args: str, who: str = "cora@example.com") -> CliResult:
    return run_cli("waiver", "create", "--key", str(trust.key_files[who]), "--policy-dir", str(trust.policy_dir),
                   "--evidence", str(evidence), *args)


def check(opa: str, evidence: Path, manifest: Path) -> CliResult:
    return run_cli("check", "--evidence", str(evidence), "--opa-url", opa, "--format", "json", str(manifest))


def decision_of(result: CliResult) -> dict:
    [decision] = result.json()["results"]
    return decision


def test_create_then_verify_states_scope_approver_and_artifacts(trust, evidence, tmp_path):
    out = tmp_path / "fairness.dsse.json"
    made = create(trust, evidence, "--model", "credit-scoring", "--versions", "3-4", "--requirement", FAIRNESS,
                  "--reason", "Q4 portfolio review accepted the gap", "--expires", "30d", "--out", str(out))
    assert made.code == 0, made.stderr
    verified = run_cli("waiver", "verify", str(out), "--policy-dir", str(trust.policy_dir))
    assert verified.code == 0, verified.stderr
    facts = json.loads(verified.stdout)
    assert facts["signature_valid"] and facts["state"] == "active"
    assert facts["predicate_type"] == "https://model-gatekeeper.io/waiver/v1"
    predicate = facts["predicate"]
    assert predicate["requirement"] == FAIRNESS and predicate["model"] == "credit-scoring"
    assert predicate["versions"] == ["3", "4"] and predicate["approver"] == "cora@example.com"
    assert predicate["reason"] == "Q4 portfolio review accepted the gap"
    expires = datetime.fromisoformat(predicate["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=29) < expires - datetime.now(timezone.utc) <= timedelta(days=30)
    # Bound to the artifacts it covers, like a sign-off.
    assert facts["subject_digests"] == [digest_of(evidence, "3"), digest_of(evidence, "4")]
    assert f"waiver of {FAIRNESS} for credit-scoring versions 3, 4, approved by cora@example.com" in verified.stderr


def test_an_unexpired_waiver_turns_the_violation_into_a_warning(trust, evidence, opa, tmp_path):
    denied = check(opa, evidence, V4)
    assert denied.code == 1 and {v["requirement"] for v in decision_of(denied)["violations"]} == {FAIRNESS}
    out = tmp_path / "w.dsse.json"
    assert create(trust, evidence, "--model", "credit-scoring", "--versions", "4", "--requirement", FAIRNESS,
                  "--reason", "mitigation ships in v5", "--out", str(out)).code == 0
    rel = attach(evidence, "4", "fairness.dsse.json", out.read_bytes())
    admitted = check(opa, evidence, V4)
    assert admitted.code == 0, admitted.stdout
    decision = decision_of(admitted)
    assert decision["allowed"] and decision["violations"] == []
    [waived] = decision["waived"]
    assert waived["requirement"] == FAIRNESS and waived["waiver"] == rel
    assert waived["waiver_reason"] == "mitigation ships in v5"
    assert any(w.startswith(f"[{FAIRNESS}] credit-scoring@4: waived by {rel} until ") for w in decision["warnings"])


def test_an_expired_waiver_is_ignored_and_says_so(trust, evidence, opa, tmp_path):
    expired_at = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    envelope = trust.waiver("cora@example.com", model="credit-scoring", versions=["4"], requirement=FAIRNESS,
                            digest=digest_of(evidence, "4"), expires_at=expired_at)
    rel = attach(evidence, "4", "old.dsse.json", envelope)
    result = check(opa, evidence, V4)
    assert result.code == 1
    decision = decision_of(result)
    assert {v["requirement"] for v in decision["violations"]} == {FAIRNESS} and decision["waived"] == []
    stamp = expired_at.isoformat().replace("+00:00", "Z")
    assert f"[{FAIRNESS}] credit-scoring@4: waiver at {rel} expired on {stamp}" in decision["warnings"]
    (tmp_path / "old.json").write_bytes(envelope)
    verified = run_cli("waiver", "verify", str(tmp_path / "old.json"), "--policy-dir", str(trust.policy_dir))
    assert verified.code == 1 and f"expired on {stamp}" in verified.stderr
    assert json.loads(verified.stdout)["state"] == "expired"


def test_classification_can_never_be_waived(trust, evidence, opa):
    refused = create(trust, evidence, "--model", "credit-scoring", "--versions", "12", "--requirement",
                     "classification.prohibited", "--reason", "we like it")
    assert refused.code == 2 and "classification requirements can never be waived" in refused.stderr
    # A waiver made by other means does not help either.
    attach(evidence, "12", "prohibited.dsse.json", trust.waiver(
        "cora@example.com", model="credit-scoring", versions=["12"], requirement="classification.prohibited",
        digest=digest_of(evidence, "12"), expires_at=datetime.now(timezone.utc) + timedelta(days=1)))
    result = check(opa, evidence, V12)
    assert result.code == 1
    decision = decision_of(result)
    assert {v["requirement"] for v in decision["violations"]} == {"classification.prohibited"}
    assert decision["waived"] == []


def test_only_approvers_may_waive(trust, evidence, opa, tmp_path):
    out = tmp_path / "w.dsse.json"
    made = create(trust, evidence, "--model", "credit-scoring", "--versions", "4", "--requirement", FAIRNESS,
                  "--reason", "looks fine to me", "--out", str(out), who="vera@example.com")
    assert made.code == 0
    assert "vera@example.com holds none of the approver roles (compliance)" in made.stderr
    attach(evidence, "4", "validator.dsse.json", out.read_bytes())
    result = check(opa, evidence, V4)
    assert result.code == 1 and decision_of(result)["waived"] == []


def test_a_waiver_covers_only_its_model_versions_and_requirement(trust, evidence, opa):
    for name, kwargs in [("other-version.dsse.json", {"versions": ["3"], "requirement": FAIRNESS}),
                         ("other-requirement.dsse.json", {"versions": ["4"], "requirement": "pii.open_findings"})]:
        attach(evidence, "4", name, trust.waiver("cora@example.com", model="credit-scoring",
                                                 digest=digest_of(evidence, "4"),
                                                 expires_at=datetime.now(timezone.utc) + timedelta(days=1), **kwargs))
    result = check(opa, evidence, V4)
    assert result.code == 1
    decision = decision_of(result)
    assert {v["requirement"] for v in decision["violations"]} == {FAIRNESS} and decision["waived"] == []


def test_a_tampered_waiver_is_rejected(trust, evidence, opa, tmp_path):
    genuine = trust.waiver("cora@example.com", model="credit-scoring", versions=["3"], requirement=FAIRNESS,
                           digest=digest_of(evidence, "4"), expires_at=datetime.now(timezone.utc) + timedelta(days=1))
    forged = tamper(genuine, versions=["3", "4"])
    (tmp_path / "forged.json").write_bytes(forged)
    verified = run_cli("waiver", "verify", str(tmp_path / "forged.json"), "--policy-dir", str(trust.policy_dir))
    assert verified.code == 1 and "signature does not verify against a trusted key" in verified.stderr
    attach(evidence, "4", "forged.dsse.json", forged)
    result = check(opa, evidence, V4)
    assert result.code == 1 and decision_of(result)["waived"] == []


def test_verify_refuses_a_signoff(trust):
    signoff = EVIDENCE / "credit-scoring" / "3" / "signoffs" / "validator.dsse.json"
    result = run_cli("waiver", "verify", str(signoff), "--policy-dir", str(trust.policy_dir))
    assert result.code == 1
    assert "not a waiver (predicate type https://model-gatekeeper.io/signoff/v1)" in result.stderr


def test_create_needs_an_artifact_to_bind_to(trust, evidence, tmp_path):
    unknown = create(trust, evidence, "--model", "fraud-detector", "--versions", "1", "--requirement", FAIRNESS,
                     "--reason", "pilot")
    assert unknown.code == 2
    assert "no artifact digest found for fraud-detector versions 1" in unknown.stderr
    digest = "sha256:" + "ab" * 32
    partly = create(trust, evidence, "--model", "fraud-detector", "--versions", "1,2", "--requirement", FAIRNESS,
                    "--reason", "pilot", "--digest", f"1={digest}")
    assert partly.code == 2 and partly.stdout == ""  # a waiver applies only to the artifact digests it names
    assert partly.stderr.startswith("gatekeeper: version 2: no artifact digest known") and partly.stderr.count("\n") == 1
    given = create(trust, evidence, "--model", "fraud-detector", "--versions", "1", "--requirement", FAIRNESS,
                   "--reason", "pilot", "--digest", f"1={digest}")
    assert given.code == 0, given.stderr
    statement = json.loads(given.stdout)
    assert statement["payloadType"] == "application/vnd.in-toto+json"


@pytest.mark.parametrize("args, words", [
    (["--requirement", "fairness"], "is not a requirement ID"),
    (["--requirement", FAIRNESS, "--versions", "5-3"], "is not a version range"),
    (["--requirement", FAIRNESS, "--expires", "soon"], "is not a duration"),
    (["--requirement", FAIRNESS, "--reason", "  "], "--reason must say why"),
])
def test_bad_waiver_requests_exit_2_with_one_line(trust, evidence, args, words):
    base = {"--model": "credit-scoring", "--versions": "4", "--reason": "because"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    result = create(trust, evidence, *[item for pair in base.items() for item in pair])
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and words in lines[0], result.stderr
