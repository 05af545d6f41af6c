"""Every answered review is in the decision log, marked with what happened; only the
caller holding the admission token gets reviews answered (issue 13)."""

from __future__ import annotations

import time

import httpx

from ..conftest import run_cli
from .server import GateProcess, manifest, review

COMPLIANT = "credit-scoring-inferenceservice.yaml"


def records(gate: GateProcess, **match: str) -> list[dict]:
    listed = run_cli("audit", "list", "--audit-db", gate.audit_db, "--format", "json", "--limit", "1000")
    assert listed.code == 0, listed.stderr
    return [r for r in listed.json() if all(r.get(k) == v for k, v in match.items())]


def post(gate: GateProcess, body: dict, path: str = "/validate/production", **kwargs) -> httpx.Response:
    return httpx.post(f"{gate.url}{path}", json=body, timeout=10, **kwargs)


def test_reviews_answered_without_a_policy_decision_are_recorded_with_the_reason(gate):
    unannotated = manifest("churn-predictor-deployment.yaml")
    annotated = manifest("churn-predictor-deployment.yaml")
    unannotated["spec"]["template"]["metadata"]["annotations"] = {}
    removal = post(gate, review(unannotated, operation="UPDATE", old=annotated, uid="removal"))
    assert removal.json()["response"] == {"uid": "removal", "allowed": True}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    assert post(gate, review(configmap, uid="configmap")).json()["response"]["allowed"] is True
    post(gate, review(None, operation="DELETE", old=annotated, uid="delete"))
    assert post(gate, review(None, operation="DELETE", old=configmap, uid="delete-configmap")).json()["response"][
        "allowed"] is True
    post(gate, review(manifest(COMPLIANT), uid="typo"), path="/validate/prodution")

    reasons = {uid: [(r["outcome"], r["allowed"], r["reason"]) for r in records(gate, request_uid=uid)]
               for uid in ("removal", "configmap", "delete", "delete-configmap", "typo")}
    # Reviews about a model are on record, whatever answered them; objects that serve no
    # model (and never did) are answered without a durable write.
    assert reasons == {
        "removal": [("admitted", True, "annotation_removed")],
        "configmap": [],
        "delete": [("admitted", True, "not_judged")],
        "delete-configmap": [],
        "typo": [("error", False, "unknown_environment")],
    }
    verified = run_cli("audit", "verify", "--audit-db", gate.audit_db)
    assert verified.code == 0, verified.stdout + verified.stderr


def test_an_over_budget_denial_is_recorded(tmp_path):
    # A budget no evaluation can meet: the gate answers in time and fails closed.
    gate = GateProcess(tmp_path, env={"GATEKEEPER_RESPONSE_BUDGET": "0.000001"}).start()
    try:
        answer = post(gate, review(manifest(COMPLIANT), uid="slow")).json()["response"]
    finally:
        gate.stop()
    assert answer["allowed"] is False and "budget" in answer["status"]["message"]
    [record] = records(gate, request_uid="slow")
    assert (record["outcome"], record["allowed"], record["reason"], record["environment"]) == (
        "error", False, "over_budget", "production")
    assert "budget" in record["error"]
    assert run_cli("audit", "verify", "--audit-db", gate.audit_db).code == 0


def test_with_an_admission_token_only_its_holder_gets_reviews_answered(tmp_path):
    token = tmp_path / "admission-token"
    token.write_text("s3cret-for-this-test\n")
    gate = GateProcess(tmp_path, "--admission-token-file", str(token), env={"GATEKEEPER_RELOAD_INTERVAL": "0.2"}).start()
    try:
        body = review(manifest(COMPLIANT), uid="forged")
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret-for-this-test"}):
            refused = post(gate, body, headers=headers)
            assert refused.status_code == 401 and "API server" in refused.json()["error"]
        assert records(gate, request_uid="forged") == []
        body = review(manifest(COMPLIANT), uid="from-apiserver")
        answered = post(gate, body, headers={"authorization": "Bearer s3cret-for-this-test"})
        assert answered.status_code == 200 and answered.json()["response"]["allowed"] is True
        assert [r["source"] for r in records(gate, request_uid="from-apiserver")] == ["webhook"]
        assert httpx.get(f"{gate.url}/healthz").status_code == 200  # probes need no token

        # a rotated token (the Secret and the API server's file changed together): no restart
        token.with_suffix(".new").write_text("rotated-token")
        token.with_suffix(".new").replace(token)
        rotated = {"authorization": "Bearer rotated-token"}
        deadline = time.monotonic() + 15
        while post(gate, review(manifest(COMPLIANT)), headers=rotated).status_code != 200:
            assert time.monotonic() < deadline, "the rotated token was not taken"
            time.sleep(0.1)
        assert post(gate, body, headers={"authorization": "Bearer s3cret-for-this-test"}).status_code == 401
    finally:
        gate.stop()


def test_an_admission_replays_from_what_the_log_kept(gate):
    # The webhook hands the OPA input to the log and stores the policy bundle of its own OPA.
    assert post(gate, review(manifest(COMPLIANT), uid="replayed")).json()["response"]["allowed"] is True
    (admitted,) = records(gate, request_uid="replayed")
    assert admitted["input_digest"].startswith("sha256:")
    replayed = run_cli("audit", "replay", admitted["decision_id"], "--audit-db", gate.audit_db)
    assert replayed.code == 0, replayed.stdout + replayed.stderr
    assert replayed.stdout.startswith(f"identical: decision {admitted['decision_id']} ")

    unannotated = manifest("churn-predictor-deployment.yaml")
    annotated = manifest("churn-predictor-deployment.yaml")
    unannotated["spec"]["template"]["metadata"]["annotations"] = {}
    post(gate, review(unannotated, operation="UPDATE", old=annotated, uid="no-input"))
    (removal,) = records(gate, request_uid="no-input")
    refused = run_cli("audit", "replay", removal["decision_id"], "--audit-db", gate.audit_db)
    assert refused.code == 2 and refused.stderr.endswith(
        "cannot be replayed: it was answered without a policy evaluation (annotation_removed): there is no input\n")
