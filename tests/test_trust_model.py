"""Nobody grades their own homework (issue 26, findings 1, 2, 6 and the sign-off limits).

Each finding as a user meets it: bundles edited as text the way an author would, sign-offs
made with `gatekeeper signoff create`, judged by `gatekeeper check --environment production`
and by the webhook, both against the real OPA.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
import yaml

from gatekeeper.evidence.signing.statements import (
    SIGNOFF_PREDICATE,
    WAIVER_PREDICATE,
    Statement,
    Subject,
    load_signer,
    rfc3339,
    sign_envelope,
    sign_statement,
    signoff_predicate,
)

from .conftest import EVIDENCE, POLICIES, run_cli
from .webhook.server import GateProcess, review

PEOPLE = {"vic@example.com": "validator", "cleo@example.com": "compliance"}
ZERO = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """policies/ with two test signers (keys made by `gatekeeper keygen`), and credit-scoring 3
    signed off by them with `gatekeeper signoff create`."""
    root = tmp_path_factory.mktemp("trust")
    shutil.copytree(POLICIES, root / "policies")
    shutil.copytree(EVIDENCE, root / "evidence")
    signers_file = root / "policies" / "gatekeeper" / "signers" / "signers.yaml"
    signers = yaml.safe_load(signers_file.read_text())
    for person, role in PEOPLE.items():
        made = run_cli("keygen", "--out", str(root / f"{role}.pem"), "--name", person, "--role", role)
        assert made.code == 0, made.stderr
        signers["signers"].extend(yaml.safe_load(made.stdout))
    signers_file.write_text(yaml.safe_dump(signers))
    for role in PEOPLE.values():
        made = signoff(root, root / "evidence", "3", role)
        assert made.code == 0, made.stderr
        assert "covers artifact sha256:" in made.stderr and "fairness" in made.stderr
    return root


def signoff(root: Path, evidence: Path, version: str, role: str, *extra: str):
    return run_cli("signoff", "create", "--model", "credit-scoring", "--version", version, "--role", role,
                   "--key", str(root / f"{role}.pem"), "--evidence", str(evidence),
                   "--policy-dir", str(root / "policies"),
                   "--out", str(evidence / "credit-scoring" / version / "signoffs" / f"{role}.dsse.json"), *extra)


@pytest.fixture
def evidence(world, tmp_path) -> Path:
    """A fresh copy of the signed evidence for one test to edit."""
    shutil.copytree(world / "evidence", tmp_path / "evidence")
    return tmp_path / "evidence"


def edit(evidence: Path, version: str, old: str, new: str) -> None:
    """Change the bundle's text, as its author would in an editor."""
    path = evidence / "credit-scoring" / version / "evidence.yaml"
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def isvc(version: str, storage: str | None = None) -> dict:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": f"credit-scoring-v{version}", "namespace": "lending",
                         "annotations": {"model-gatekeeper.io/model": f"models:/credit-scoring/{version}"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                             "storageUri": storage or f"s3://models/credit-scoring/{version}"}}}}


def check(world: Path, evidence: Path, tmp_path: Path, obj: dict):
    manifest = tmp_path / f"{obj['metadata']['name']}.yaml"
    manifest.write_text(yaml.safe_dump(obj))
    result = run_cli("check", "--environment", "production", "--format", "json", "--policy-dir",
                     str(world / "policies"), "--evidence", str(evidence), str(manifest))
    assert result.code in (0, 1), result.stderr
    [decision] = result.json()["results"]
    return result.code, decision


def lines(decision: dict) -> list[str]:
    return [v["line"] for v in decision["violations"]]


# --- 1. the risk class comes from the compliance team ---------------------------------------

def test_the_signed_example_is_admitted(world, evidence, tmp_path):
    code, decision = check(world, evidence, tmp_path, isvc("3"))
    assert code == 0, lines(decision)
    assert decision["models"][0]["risk_class"] == "high"


def test_a_bundle_cannot_lower_its_registered_class(world, evidence, tmp_path):
    edit(evidence, "13", "risk_class: high", "risk_class: minimal")
    code, decision = check(world, evidence, tmp_path, isvc("13"))
    assert code == 1
    assert decision["models"][0]["risk_class"] == "high"  # judged at the register's class
    [mismatch] = [v for v in decision["violations"] if v["requirement"] == "classification.mismatch"]
    assert mismatch["observed"] == "minimal" and mismatch["threshold"] == "high"
    assert ("the evidence says risk_class minimal, but the classification register classifies credit-scoring "
            "as high (decided by model-risk-committee@example.com on 2026-09-15)") in mismatch["line"]
    assert {v["requirement"] for v in decision["violations"]} >= {"classification.mismatch", "signoff.role"}


def test_a_model_the_register_does_not_know_is_unclassified(world, evidence, tmp_path):
    folder = evidence / "fraud-scoring" / "1"
    shutil.copytree(evidence / "credit-scoring" / "3", folder)
    bundle = folder / "evidence.yaml"
    bundle.write_text(bundle.read_text().replace("model: credit-scoring", "model: fraud-scoring")
                      .replace("version: '3'", "version: '1'"))
    obj = isvc("3")
    obj["metadata"]["annotations"]["model-gatekeeper.io/model"] = "models:/fraud-scoring/1"
    code, decision = check(world, evidence, tmp_path, obj)
    assert code == 1
    assert decision["models"][0]["risk_class"] == "unclassified"
    assert lines(decision) == [
        "[classification.unclassified] fraud-scoring@1: fraud-scoring is not in the classification register, so it "
        "is unclassified (the evidence says 'high'; only the compliance team's register classifies a model)"]


# --- 2. a sign-off covers what its signer reviewed --------------------------------------------

@pytest.mark.parametrize(("old", "new", "changed"), [
    ("demographic_parity_ratio: 0.91", "demographic_parity_ratio: 0.81", "evidence changed since signing: fairness"),
    ("auc: 0.87", "auc: 0.51", "evidence changed since signing: performance"),
])
def test_an_edit_after_signing_voids_both_sign_offs(world, evidence, tmp_path, old, new, changed):
    edit(evidence, "3", old, new)
    code, decision = check(world, evidence, tmp_path, isvc("3"))
    assert code == 1
    assert [v["requirement"] for v in decision["violations"]] == ["signoff.role", "signoff.role"]
    for line in lines(decision):
        assert f".dsse.json: {changed} (ask for a new sign-off)" in line, line


def test_a_moved_artifact_voids_the_sign_offs(world, evidence, tmp_path):
    edit(evidence, "3", "uri: s3://models/credit-scoring/3", "uri: s3://scratch/unreviewed-model")
    code, decision = check(world, evidence, tmp_path, isvc("3", "s3://scratch/unreviewed-model"))
    assert code == 1
    assert [v["requirement"] for v in decision["violations"]] == ["signoff.role", "signoff.role"]
    for line in lines(decision):
        assert ("the artifact location changed since signing: signed s3://models/credit-scoring/3, now "
                "s3://scratch/unreviewed-model") in line


def test_a_new_drift_result_keeps_the_sign_offs(world, evidence, tmp_path):
    """Drift is refreshed after deployment: no role reviews it by default."""
    bundle = evidence / "credit-scoring" / "3" / "evidence.yaml"
    bundle.write_text(bundle.read_text() + "drift:\n  method: evidently DataDriftPreset\n  dataset_drift: false\n"
                      f"  drift_share: 0.1\n  drifted_columns: [income]\n  columns: 10\n"
                      f"  evaluated_at: '{rfc3339(datetime.now(timezone.utc) - timedelta(days=1))}'\n")
    code, decision = check(world, evidence, tmp_path, isvc("3"))
    assert code == 0, lines(decision)


def test_signoff_verify_shows_what_was_reviewed_and_what_changed(world, evidence):
    envelope = evidence / "credit-scoring" / "3" / "signoffs" / "validator.dsse.json"
    args = ("signoff", "verify", str(envelope), "--policy-dir", str(world / "policies"), "--evidence", str(evidence))
    same = run_cli(*args)
    assert same.code == 0, same.stderr
    reviewed = json.loads(same.stdout)["predicate"]["reviewed"]
    assert reviewed["artifact_uri"] == "s3://models/credit-scoring/3"
    assert "fairness" in reviewed["sections"] and "drift" not in reviewed["sections"]
    assert all(digest.startswith("sha256:") for digest in reviewed["sections"].values())
    assert "covers artifact sha256:" in same.stderr and "is as it was signed" in same.stderr
    edit(evidence, "3", "auc: 0.87", "auc: 0.51")
    changed = run_cli(*args)
    assert changed.code == 1 and "changed since signing: performance" in changed.stderr


# --- 3. what can be waived ----------------------------------------------------------------------

def test_waiver_create_refuses_to_waive_a_sign_off(world, evidence):
    made = run_cli("waiver", "create", "--model", "credit-scoring", "--versions", "13", "--requirement",
                   "signoff.role", "--reason", "urgent", "--key", str(world / "compliance.pem"),
                   "--evidence", str(evidence), "--policy-dir", str(world / "policies"))
    assert made.code == 2
    assert made.stderr.strip() == "gatekeeper: signoff.role: signoff requirements can never be waived"


def waiver_file(world: Path, evidence: Path, version: str, requirement: str, digest: str) -> str:
    """A waiver signed by the compliance officer without the CLI's refusals (as a determined user could)."""
    now = datetime.now(timezone.utc)
    predicate = {"requirement": requirement, "model": "credit-scoring", "versions": [version], "reason": "urgent",
                 "approver": "cleo@example.com", "signed_at": rfc3339(now), "expires_at": rfc3339(now + timedelta(days=7))}
    statement = Statement(subject=[Subject(name=f"models:/credit-scoring/{version}", digest={"sha256": digest[7:]})],
                          predicateType=WAIVER_PREDICATE, predicate=predicate)
    envelope = sign_envelope(statement, load_signer(world / "compliance.pem"))
    path = f"waivers/w{version}.dsse.json"  # short: a warning is cut to 120 characters in an AdmissionResponse
    target = evidence / "credit-scoring" / version / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(envelope))
    bundle = evidence / "credit-scoring" / version / "evidence.yaml"
    bundle.write_text(bundle.read_text() + f"waivers:\n- {path}\n")
    return path


def artifact_digest(evidence: Path, version: str) -> str:
    return yaml.safe_load((evidence / "credit-scoring" / version / "evidence.yaml").read_text())["artifact"]["digest"]


def test_one_waiver_cannot_replace_two_sign_offs(world, evidence, tmp_path):
    path = waiver_file(world, evidence, "13", "signoff.role", artifact_digest(evidence, "13"))
    code, decision = check(world, evidence, tmp_path, isvc("13"))
    assert code == 1
    assert [v["requirement"] for v in decision["violations"]] == ["signoff.role", "signoff.role"]
    assert decision["waived"] == []
    assert (f"[signoff.role] credit-scoring@13: waiver at {path} does not apply: signoff.role can never be waived"
            in decision["warnings"])


def test_a_waiver_for_another_artifact_does_not_apply(world, evidence, tmp_path):
    path = waiver_file(world, evidence, "4", "fairness.demographic_parity_ratio", ZERO)
    code, decision = check(world, evidence, tmp_path, isvc("4"))
    assert code == 1
    assert "fairness.demographic_parity_ratio" in {v["requirement"] for v in decision["violations"]}
    assert decision["waived"] == []
    assert (f"[fairness.demographic_parity_ratio] credit-scoring@4: waiver at {path} does not apply: subject digest "
            f"does not match artifact digest {artifact_digest(evidence, '4')}") in decision["warnings"]


def test_the_same_waiver_bound_to_the_artifact_applies(world, evidence, tmp_path):
    waiver_file(world, evidence, "4", "fairness.demographic_parity_ratio", artifact_digest(evidence, "4"))
    code, decision = check(world, evidence, tmp_path, isvc("4"))
    assert [v["requirement"] for v in decision["waived"]] == ["fairness.demographic_parity_ratio"]
    assert "fairness.demographic_parity_ratio" not in {v["requirement"] for v in decision["violations"]}


# --- 4. sign-off limits ---------------------------------------------------------------------------

def test_signoff_create_refuses_a_validity_beyond_the_role_maximum(world, evidence):
    made = signoff(world, evidence, "3", "validator", "--expires", "81541d")
    assert made.code == 2
    assert made.stderr.strip() == ("gatekeeper: --expires 81541d is longer than a validator sign-off may be valid "
                                   "(730 days, signoff_roles in the requirement matrix)")


def signed(world: Path, evidence: Path, role: str, *, subject: str = "models:/credit-scoring/3",
           now: datetime | None = None, expires: timedelta = timedelta(days=30)) -> None:
    """Replace role's sign-off of credit-scoring 3 by one made without the CLI's refusals."""
    envelope_path = evidence / "credit-scoring" / "3" / "signoffs" / f"{role}.dsse.json"
    old = json.loads(run_cli("signoff", "verify", str(envelope_path), "--policy-dir", str(world / "policies")).stdout)
    person = next(p for p, r in PEOPLE.items() if r == role)
    predicate = signoff_predicate(model="credit-scoring", version="3", role=role, signer=person, expires=expires,
                                  reviewed=old["predicate"]["reviewed"], now=now)
    envelope = sign_statement(predicate_type=SIGNOFF_PREDICATE, subject_name=subject,
                              digest=artifact_digest(evidence, "3"), predicate=predicate,
                              signer=load_signer(world / f"{role}.pem"))
    envelope_path.write_text(json.dumps(envelope))


@pytest.mark.parametrize(("kwargs", "why"), [
    ({"expires": timedelta(days=81541)}, "valid for 81541 days from signing; a validator sign-off may be valid "
                                         "for at most 730 days"),
    ({"now": datetime.now(timezone.utc) + timedelta(days=2)}, "is in the future"),
    ({"subject": "models:/churn-predictor/7"}, "names models:/churn-predictor/7, not models:/credit-scoring/3"),
])
def test_sign_off_limits(world, evidence, tmp_path, kwargs, why):
    signed(world, evidence, "validator", **kwargs)
    code, decision = check(world, evidence, tmp_path, isvc("3"))
    assert code == 1
    [line] = lines(decision)
    assert line.startswith("[signoff.role] credit-scoring@3: no valid sign-off for role 'validator'") and why in line


# --- the same answers through the webhook -----------------------------------------------------

@pytest.fixture(scope="module")
def gate(world, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("trust-gate")
    shutil.copytree(world / "evidence", workdir / "evidence")
    process = GateProcess(workdir, "--evidence", str(workdir / "evidence"), "--policy-dir", str(world / "policies"),
                          env={"GATEKEEPER_EVIDENCE_CACHE_TTL": "0"}).start()
    yield process
    process.stop()


@pytest.fixture
def gate_evidence(gate, world) -> Path:
    """The serving gate's evidence folder, as signed, for one test to edit."""
    folder = gate.workdir / "evidence"
    shutil.rmtree(folder)
    shutil.copytree(world / "evidence", folder)
    return folder


def admit(gate, obj: dict) -> dict:
    answer = httpx.post(f"{gate.url}/validate/production", json=review(obj), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def denial_lines(response: dict) -> list[str]:
    """The violation lines of a denial (below its header line)."""
    header, *lines = response["status"]["message"].splitlines()
    assert header.startswith("model-gatekeeper denied ")
    return lines


def test_webhook_admits_the_signed_model(gate, gate_evidence):
    assert admit(gate, isvc("3"))["allowed"] is True


@pytest.mark.parametrize(("old", "new", "storage", "why"), [
    ("demographic_parity_ratio: 0.91", "demographic_parity_ratio: 0.81", None,
     "evidence changed since signing: fairness"),
    ("auc: 0.87", "auc: 0.51", None, "evidence changed since signing: performance"),
    ("uri: s3://models/credit-scoring/3", "uri: s3://scratch/unreviewed-model", "s3://scratch/unreviewed-model",
     "the artifact location changed since signing"),
])
def test_webhook_denies_evidence_edited_after_signing(gate, gate_evidence, old, new, storage, why):
    edit(gate_evidence, "3", old, new)
    response = admit(gate, isvc("3", storage))
    assert response["allowed"] is False and response["status"]["code"] == 403
    denied = denial_lines(response)
    assert len(denied) == 2 and all(line.startswith("[signoff.role] credit-scoring@3:") and why in line
                                    for line in denied), denied


def test_webhook_denies_a_lowered_class_and_a_waived_sign_off(gate, gate_evidence, world):
    edit(gate_evidence, "13", "risk_class: high", "risk_class: minimal")
    response = admit(gate, isvc("13"))
    assert response["allowed"] is False
    assert any(line.startswith("[classification.mismatch] credit-scoring@13: the evidence says risk_class minimal")
               for line in denial_lines(response))
    edit(gate_evidence, "13", "risk_class: minimal", "risk_class: high")
    waiver_file(world, gate_evidence, "13", "signoff.role", artifact_digest(gate_evidence, "13"))
    response = admit(gate, isvc("13"))
    assert response["allowed"] is False
    assert [line.split(":")[0] for line in denial_lines(response)] == [
        "[signoff.role] credit-scoring@13", "[signoff.role] credit-scoring@13"]
    assert any("does not apply: signoff.role can never be waived" in w for w in response.get("warnings") or [])


def test_webhook_ignores_a_zero_digest_waiver(gate, gate_evidence, world):
    waiver_file(world, gate_evidence, "4", "fairness.demographic_parity_ratio", ZERO)
    response = admit(gate, isvc("4"))
    assert response["allowed"] is False
    assert "[fairness.demographic_parity_ratio] credit-scoring@4:" in response["status"]["message"]
    assert any("waivers/w4.dsse.json does not apply: subject digest" in w for w in response.get("warnings") or [])
