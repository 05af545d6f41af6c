"""No review answered off the record (issue 27): a gate that fails on a review answers it as
any failed component and records it; an object nested past the depth the gate reads is
unreadable, judged and recorded; a Namespace changed through a subresource is judged the
same way and its record names the subresource; warnings are short, ASCII and keep what
is loaded; denials name evidence files relative to the evidence folder."""

from __future__ import annotations

import httpx
import orjson
import pytest

from gatekeeper.pipeline.object_paths import MAX_DEPTH

from ..conftest import EVIDENCE, run_cli
from .server import manifest, review
from .test_decision_log import post, records

COMPLIANT = "credit-scoring-inferenceservice.yaml"
LABEL = "model-gatekeeper.io/environment"
LEVELS = 990  # deeper than Python's default recursion limit allows a recursive walk to go


def deeply_nested(uid: str, levels: int = LEVELS) -> bytes:
    """A compliant InferenceService with a field nested `levels` levels under spec.predictor
    (written as text: no JSON encoder here nests that deep)."""
    body = review(manifest(COMPLIANT), uid=uid)
    body["request"]["object"]["spec"]["predictor"]["extra"] = "NESTED"
    nested = '{"x":' * levels + "{}" + "}" * levels
    return orjson.dumps(body).replace(b'"NESTED"', nested.encode())


@pytest.mark.parametrize("path, allowed", [("/validate/production", False), ("/validate/staging", True)])
def test_an_object_nested_too_deep_is_unreadable_answered_per_enforcement_and_recorded(gate, path, allowed):
    uid = f"deep-{allowed}"
    response = httpx.post(f"{gate.url}{path}", content=deeply_nested(uid),
                          headers={"content-type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    answer = response.json()["response"]
    assert answer["allowed"] is allowed
    unreadable = f"nested over {MAX_DEPTH} levels deep, unreadable"
    if allowed:
        assert f"[evidence.model_reference] spec.predictor.extra.x.x.x and below: {unreadable}" in answer["warnings"]
    [record] = records(gate, request_uid=uid)
    if not allowed:  # a denial's line ends with the articles its requirement serves, as recorded
        assert (f"[evidence.model_reference] spec.predictor.extra.x.x.x and below: {unreadable} "
                f"[{record['violations'][0]['citation']}]" in answer["status"]["message"].splitlines())
    assert (record["outcome"], record["allowed"]) == (("warned", True) if allowed else ("denied", False))
    assert [v["requirement"] for v in record["violations"]] == ["evidence.model_reference"]
    assert unreadable in record["violations"][0]["message"]


def broken(uid: str) -> dict:
    """A review whose object's metadata is a list: nothing the API server would send, and
    exactly what makes the gate itself fail."""
    body = review(manifest(COMPLIANT), uid=uid)
    body["request"]["object"]["metadata"] = ["not", "a", "map"]
    return body


def test_a_review_the_gate_fails_on_is_answered_per_enforcement_and_recorded(gate):
    denied = post(gate, broken("fails-production")).json()["response"]
    assert denied["allowed"] is False and denied["status"]["code"] == 403
    message = denied["status"]["message"]
    assert message.startswith("model-gatekeeper failed to evaluate: internal error in webhook.review (AttributeError: ")
    assert message.endswith("; denied (fail closed)")

    warned = post(gate, broken("fails-staging"), path="/validate/staging").json()["response"]
    assert warned["allowed"] is True and "status" not in warned
    [warning] = warned["warnings"]
    assert warning.startswith("model-gatekeeper failed to evaluate: internal error in webhook.review (AttributeError")

    for uid, environment, allowed in (("fails-production", "production", False), ("fails-staging", "staging", True)):
        [record] = records(gate, request_uid=uid)
        assert (record["outcome"], record["allowed"], record["reason"], record["environment"]) == (
            "error", allowed, "internal_error", environment)
        assert record["error"].startswith("internal error in webhook.review (AttributeError: ")
        # named by what the request says, the object itself being unreadable
        assert record["object"] == {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                                    "namespace": "lending", "name": "credit-scoring"}
    assert run_cli("audit", "verify", "--audit-db", gate.audit_db).code == 0


def namespace(labels: dict) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lending", "labels": labels}}


@pytest.mark.parametrize("subresource", ["status", "finalize"])
def test_a_label_change_through_a_namespace_subresource_is_judged_alike_and_recorded_so(gate, subresource):
    uid = f"namespace-{subresource}"
    body = review(namespace({LABEL: "development"}), operation="UPDATE", old=namespace({LABEL: "production"}), uid=uid)
    body["request"]["subResource"] = subresource
    denied = post(gate, body, path="/validate/production").json()["response"]
    assert denied["allowed"] is False
    assert (f"[namespace.environment_label] user alice@example.com may not change the namespace label {LABEL} "
            "(production -> development)") in denied["status"]["message"]
    [record] = records(gate, request_uid=uid)
    assert (record["outcome"], record["subresource"], record["object"]["kind"]) == ("denied", subresource, "Namespace")


def test_warnings_keep_requirement_model_and_what_is_loaded_and_are_ascii(gate):
    obj = manifest("artifact-storage-mismatch.yaml", "noncompliant")
    predictor = obj["spec"]["predictor"]
    # a long location path, and a non-ASCII character in what is loaded
    predictor["containers"] = [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                                "env": [{"name": "STORAGE_URI", "value": "s3://models/crédit/2"}]}]
    warned = post(gate, review(obj), path="/validate/staging").json()["response"]
    assert warned["allowed"] is True
    [line] = [w for w in warned["warnings"] if "STORAGE_URI" in w]
    assert line.isascii() and len(line) <= 120
    assert line.startswith("[artifact.storage_uri_mismatch] credit-scoring@")
    assert "...STORAGE_URI loads s3://models/cr\\xe9dit/2" in line, line


def test_denials_name_evidence_files_relative_to_the_evidence_folder(gate):
    obj = manifest(COMPLIANT)
    obj["metadata"]["annotations"]["model-gatekeeper.io/model"] = "models:/credit-scoring/99"
    message = post(gate, review(obj)).json()["response"]["status"]["message"]
    assert "(credit-scoring/99/evidence.yaml not found)" in message, message
    assert str(EVIDENCE) not in message


def test_a_body_nested_past_the_json_parser_is_a_400_naming_it(gate):
    refused = httpx.post(f"{gate.url}/validate/production", content=deeply_nested("too-deep-to-parse", 1030),
                         headers={"content-type": "application/json"}, timeout=10)
    assert refused.status_code == 400 and "depth limit exceeded" in refused.json()["error"]
