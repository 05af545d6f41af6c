"""AdmissionReview v1 against the real server: what Kubernetes sends and what it gets back."""

import asyncio
import json
import os

import httpx
import pytest

from ..conftest import run_cli
from .server import manifest, review

COMPLIANT = "credit-scoring-inferenceservice.yaml"
UNFAIR = "fairness-credit-scoring-4.yaml"


def post(gate, body, path="/validate/production", **kwargs):
    return httpx.post(f"{gate.url}{path}", json=body, timeout=10, **kwargs)


def test_compliant_model_is_admitted_with_the_decision_id(gate):
    body = review(manifest(COMPLIANT), uid="uid-admit")
    answer = post(gate, body)
    assert answer.status_code == 200
    data = answer.json()
    assert (data["apiVersion"], data["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert data["response"]["uid"] == "uid-admit" and data["response"]["allowed"] is True
    assert len(data["response"]["auditAnnotations"]["model-gatekeeper.io/decision-id"]) == 32


def test_noncompliant_model_is_denied_with_one_line_per_violation(gate):
    answer = post(gate, review(manifest(UNFAIR, "noncompliant"), uid="uid-deny")).json()["response"]
    assert answer["uid"] == "uid-deny" and answer["allowed"] is False
    assert answer["status"]["code"] == 403
    lines = answer["status"]["message"].splitlines()
    assert "[fairness.demographic_parity_ratio] credit-scoring@4: demographic parity ratio for 'sex' is 0.62" in "\n".join(lines)
    assert all(line.startswith("[") for line in lines[1:])


def test_staging_admits_with_short_warnings(gate):
    answer = post(gate, review(manifest(UNFAIR, "noncompliant")), path="/validate/staging").json()["response"]
    assert answer["allowed"] is True
    assert any(w.startswith("[fairness.demographic_parity_ratio] credit-scoring@4") for w in answer["warnings"])
    assert all(len(w) <= 120 for w in answer["warnings"])


def test_delete_and_non_model_objects_are_admitted_without_asking(gate):
    delete = post(gate, review(None, operation="DELETE", old=manifest(UNFAIR, "noncompliant"), uid="d")).json()["response"]
    assert delete == {"uid": "d", "allowed": True}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}
    assert post(gate, review(configmap, uid="c")).json()["response"] == {"uid": "c", "allowed": True}
    plain = manifest("churn-predictor-deployment.yaml")  # first document only: the annotated one
    plain["spec"]["template"]["metadata"]["annotations"] = {}
    assert post(gate, review(plain, uid="p")).json()["response"] == {"uid": "p", "allowed": True}


def test_update_judges_the_new_object(gate):
    good, bad = manifest(COMPLIANT), manifest(UNFAIR, "noncompliant")
    to_bad = post(gate, review(bad, operation="UPDATE", old=good)).json()["response"]
    to_good = post(gate, review(good, operation="UPDATE", old=bad)).json()["response"]
    assert to_bad["allowed"] is False and to_good["allowed"] is True


def test_inference_service_without_model_annotation_is_denied(gate):
    answer = post(gate, review(manifest("evidence-no-model-reference.yaml", "noncompliant"))).json()["response"]
    assert answer["allowed"] is False and "[evidence.model_reference]" in answer["status"]["message"]


def test_validate_without_environment_applies_production_outside_a_cluster(gate):
    answer = post(gate, review(manifest(UNFAIR, "noncompliant")), path="/validate").json()["response"]
    assert answer["allowed"] is False


def test_unknown_environment_in_the_path_denies(gate):
    answer = post(gate, review(manifest(COMPLIANT)), path="/validate/prod").json()["response"]
    assert answer["allowed"] is False and "unknown environment 'prod'" in answer["status"]["message"]


def test_dry_run_gets_the_real_decision_and_a_dry_run_audit_record(gate):
    answer = post(gate, review(manifest(UNFAIR, "noncompliant"), uid="uid-dry", dry_run=True)).json()["response"]
    assert answer["allowed"] is False
    listed = run_cli("audit", "list", "--audit-db", gate.audit_db, "--format", "json", "--limit", "1000")
    assert listed.code == 0, listed.stderr
    [record] = [r for r in json.loads(listed.stdout) if r["request_uid"] == "uid-dry"]
    assert record["dry_run"] is True and record["outcome"] == "denied"
    assert record["decision_id"] == answer["auditAnnotations"]["model-gatekeeper.io/decision-id"]
    assert record["models"][0]["risk_class"] == "high" and record["policy_revision"].startswith("sha256:")
    assert record["evidence_digest"].startswith("sha256:")


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "not JSON"),
    (b'{"kind": "Pod"}', "not an AdmissionReview"),
    (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}', "unsupported apiVersion"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x"}}', "request.operation"),
])
def test_bad_bodies_get_a_4xx_with_a_json_reason(gate, body, reason):
    answer = httpx.post(f"{gate.url}/validate/production", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_oversized_body_is_refused_and_the_server_keeps_serving(gate):
    huge = b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = httpx.post(f"{gate.url}/validate/production", content=huge, timeout=30)
    assert answer.status_code == 413 and "limit" in answer.json()["error"]
    assert post(gate, review(manifest(COMPLIANT))).json()["response"]["allowed"] is True


def test_200_concurrent_reviews_each_get_their_own_uid(gate):
    bodies = [review(manifest(COMPLIANT if i % 2 else UNFAIR, "compliant" if i % 2 else "noncompliant"), uid=f"c-{i}")
              for i in range(200)]

    async def send_all():
        limits = httpx.Limits(max_connections=50)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            return await asyncio.gather(*(client.post(f"{gate.url}/validate/production", json=b) for b in bodies))

    answers = asyncio.run(send_all())
    assert all(a.status_code == 200 for a in answers)
    for i, answer in enumerate(answers):
        response = answer.json()["response"]
        assert response["uid"] == f"c-{i}"
        assert response["allowed"] is bool(i % 2)


def test_evaluate_endpoint_returns_the_report(gate):
    answer = httpx.post(f"{gate.url}/v1/evaluate", json={"environment": "production", "objects": [
        manifest(COMPLIANT), manifest(UNFAIR, "noncompliant")]}, timeout=10)
    assert answer.status_code == 200
    report = answer.json()
    assert report["allowed"] is False
    assert [r["allowed"] for r in report["results"]] == [True, False]
    bad = httpx.post(f"{gate.url}/v1/evaluate", json={"environment": "nowhere", "objects": []})
    assert bad.status_code == 400 and "unknown environment" in bad.json()["error"]


def test_health_readiness_and_metrics(gate):
    assert httpx.get(f"{gate.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{gate.url}/readyz").json()
    assert ready["ready"] is True and ready["policy_revision"].startswith("sha256:")
    post(gate, review(manifest(UNFAIR, "noncompliant")))
    text = httpx.get(f"{gate.url}/metrics").text
    assert 'gatekeeper_admission_reviews_total{environment="production",outcome="denied",risk_class="high"}' in text
    assert "gatekeeper_opa_query_seconds_bucket" in text and "gatekeeper_admission_review_seconds_count" in text


def test_one_json_log_line_per_decision_with_its_id(gate):
    answer = post(gate, review(manifest(COMPLIANT), uid="uid-log")).json()["response"]
    decision_id = answer["auditAnnotations"]["model-gatekeeper.io/decision-id"]
    lines = [json.loads(line) for line in gate.log.read_text().splitlines() if line.startswith("{")]
    [entry] = [line for line in lines if line.get("decision_id") == decision_id]
    assert entry["uid"] == "uid-log" and entry["outcome"] == "admitted"


def test_the_serving_gates_own_opa_gets_one_go_processor(gate):
    # A second one only spins on the cores the gate needs (gatekeeper.opa.server.SERVING_OPA_PROCESSORS);
    # an operator's own GOMAXPROCS still wins.
    [opa] = gate.opa_pids()
    with open(f"/proc/{opa}/environ", "rb") as environ:
        variables = dict(item.split(b"=", 1) for item in environ.read().split(b"\0") if b"=" in item)
    assert variables[b"GOMAXPROCS"] == os.environ.get("GOMAXPROCS", "1").encode()


def test_a_denial_names_what_each_requirement_serves_and_the_log_keeps_it(gate):
    answer = post(gate, review(manifest(UNFAIR, "noncompliant"), uid="uid-cited")).json()["response"]
    lines = answer["status"]["message"].splitlines()
    ratio = next(line for line in lines if line.startswith("[fairness.demographic_parity_ratio] credit-scoring@4"))
    # the regulation map's EU AI Act references, as the short suffix of the line
    assert ratio.endswith(" [EU AI Act Art. 10]")
    listed = run_cli("audit", "list", "--audit-db", gate.audit_db, "--format", "json", "--limit", "1000")
    [record] = [r for r in listed.json() if r.get("request_uid") == "uid-cited"]
    [violation] = [v for v in record["violations"] if v["requirement"] == "fairness.demographic_parity_ratio"]
    assert [r["label"] for r in violation["references"]] == [
        "EU AI Act Art. 10", "ISO/IEC 42001 A.5.4", "NIST AI RMF MEASURE 2.11"]
    assert violation["references"][0]["version"] == "Regulation (EU) 2024/1689"
