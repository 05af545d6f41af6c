"""The webhook's answers for the ways around the gate: unidentified model servers, plain
model names, wrong shapes, the environment label; never a 5xx."""

import httpx
import pytest

from ..conftest import run_cli
from .server import review

LABEL = "model-gatekeeper.io/environment"


def answer(gate, obj, path="/validate/production", **kwargs):
    response = httpx.post(f"{gate.url}{path}", json=review(obj, **kwargs), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["response"]


def deployment(container, annotations=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "lending", **({"annotations": annotations} if annotations else {})},
            "spec": {"template": {"spec": {"containers": [container]}}}}


def test_unidentified_model_server_is_denied_naming_the_image(gate):
    denied = answer(gate, deployment({"name": "s", "image": "ghcr.io/huggingface/text-generation-inference:2.4"}))
    assert denied["allowed"] is False
    assert ("[evidence.model_reference] @: Deployment runs model server TGI "
            "(image ghcr.io/huggingface/text-generation-inference:2.4)") in denied["status"]["message"]


def test_ordinary_deployment_is_admitted_without_a_decision(gate):
    assert answer(gate, deployment({"name": "web", "image": "nginx:1.27"}), uid="w") == {"uid": "w", "allowed": True}


@pytest.mark.parametrize("ref", ["models:/../3", "models:/credit-scoring/..", "models:/a%2F/3\x00"])
def test_path_like_model_references_are_denied(gate, ref):
    obj = {"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Model",
           "metadata": {"name": "m", "namespace": "lending", "annotations": {"model-gatekeeper.io/model": ref}},
           "spec": {"storageUri": "s3://models/credit-scoring/3"}}
    denied = answer(gate, obj)
    assert denied["allowed"] is False and "[evidence.model_reference]" in denied["status"]["message"]


@pytest.mark.parametrize("spec, field", [
    ({"predictor": []}, "spec.predictor: expected a map, found a list"),
    ({"predictor": None}, "spec.predictor: expected a map, found null"),
    ({"predictor": {"model": {"storageUri": "s3://x"}}, "transformer": "yes"}, "spec.transformer: expected a map, found a string"),
    ([], "spec: expected a map, found a list"),
])
def test_wrong_shapes_are_denied_naming_the_field(gate, spec, field):
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
           "metadata": {"name": "i", "namespace": "lending", "annotations": {"model-gatekeeper.io/model": "models:/credit-scoring/3"}},
           "spec": spec}
    denied = answer(gate, obj)
    assert denied["allowed"] is False and field in denied["status"]["message"]


def namespace(labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lending", "labels": labels}}


def test_environment_label_changes_need_a_named_identity(gate):
    # the review's user is alice@example.com in group system:authenticated: not named
    removed = answer(gate, namespace({}), operation="UPDATE", old=namespace({LABEL: "production"}))
    assert removed["allowed"] is False
    assert "[namespace.environment_label]" in removed["status"]["message"]
    assert "user alice@example.com may not remove the namespace label" in removed["status"]["message"]
    created = answer(gate, namespace({LABEL: "development"}))
    assert created["allowed"] is False and "may not set" in created["status"]["message"]
    unchanged = answer(gate, namespace({LABEL: "production", "team": "x"}), operation="UPDATE",
                       old=namespace({LABEL: "production"}), uid="u")
    assert unchanged == {"uid": "u", "allowed": True}


def ephemeral_review(ephemeral, uid):
    """What the API server sends for `kubectl debug`: an UPDATE of pods/ephemeralcontainers
    carrying the whole Pod (here one a ReplicaSet created) as object and oldObject."""
    before = {"apiVersion": "v1", "kind": "Pod",
              "metadata": {"name": "web-7d9-x", "namespace": "lending", "ownerReferences": [
                  {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9", "uid": "u", "controller": True}]},
              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}
    after = {**before, "spec": {**before["spec"], "ephemeralContainers": [ephemeral]}}
    body = review(after, operation="UPDATE", old=before, uid=uid)
    body["request"].update(kind={"group": "", "version": "v1", "kind": "Pod"},
                           resource={"group": "", "version": "v1", "resource": "pods"}, subResource="ephemeralcontainers")
    return body


def test_kubectl_debug_with_a_model_server_is_denied_and_busybox_is_allowed(gate):
    vllm = {"name": "debugger", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", "s3://models/x/1"]}
    response = httpx.post(f"{gate.url}/validate/production", json=ephemeral_review(vllm, "v"), timeout=10)
    assert response.status_code == 200, response.text
    denied = response.json()["response"]
    assert denied["allowed"] is False
    assert ("[evidence.model_reference] @: Pod runs model server vLLM (image vllm/vllm-openai:v0.6.3)"
            in denied["status"]["message"])
    busybox = {"name": "debugger", "image": "busybox:1.36", "command": ["sh"]}
    response = httpx.post(f"{gate.url}/validate/production", json=ephemeral_review(busybox, "b"), timeout=10)
    assert response.json()["response"] == {"uid": "b", "allowed": True}


# --- a second model location in the spec (issue 26, item 7), through the webhook and the real OPA
MODEL = {"model-gatekeeper.io/model": "models:/credit-scoring/3"}
GOOD = "s3://models/credit-scoring/3"
FROM_SECRET = {"secretKeyRef": {"name": "llm", "key": "model"}}
VLLM_IMAGE = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}


def isvc(predictor):
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "scorer", "namespace": "lending", "annotations": dict(MODEL)}, "spec": {"predictor": predictor}}


SECOND_LOCATIONS = {
    "storage-uri-twice": (isvc({"containers": [{"name": "kserve-container", "image": "registry.example.com/scorer:3",
                                                "env": [{"name": "STORAGE_URI", "value": GOOD},
                                                        {"name": "STORAGE_URI", "valueFrom": FROM_SECRET}]}]}),
                          "artifact.unverifiable", "STORAGE_URI is read from Secret llm (key model)"),
    "tgi-model-id-twice": (deployment({"name": "tgi", "image": "ghcr.io/huggingface/text-generation-inference:2.4",
                                       "env": [{"name": "MODEL_ID", "value": GOOD},
                                               {"name": "MODEL_ID", "valueFrom": FROM_SECRET}]}, MODEL),
                           "artifact.unverifiable", "MODEL_ID is read from Secret llm (key model)"),
    "vllm-model-variable-twice": (deployment({**VLLM_IMAGE, "args": ["--model", "$(MODEL)"],
                                              "env": [{"name": "MODEL", "value": GOOD},
                                                      {"name": "MODEL", "valueFrom": FROM_SECRET}]}, MODEL),
                                  "artifact.unverifiable", "--model is $(MODEL) and MODEL is read from Secret llm"),
    "storage-uris-adapter": (isvc({"model": {"modelFormat": {"name": "huggingface"}, "storageUri": GOOD},
                                   "storageUris": [{"uri": GOOD}, {"uri": "s3://scratch/adapter"}]}),
                             "artifact.storage_uri_mismatch",
                             "spec.predictor.storageUris[1].uri (component predictor) loads s3://scratch/adapter"),
    "mirrored-vllm": (deployment({"name": "llm", "image": "registry.corp.example/ml/openai-api-server:0.6.3",
                                  "args": ["--model", "s3://scratch/unreviewed-llm"]}),
                      "evidence.model_reference", "Deployment runs model server unidentified (by its --model argument)"),
}


@pytest.mark.parametrize("case", sorted(SECOND_LOCATIONS))
def test_a_second_model_location_is_denied_and_recorded(gate, case):
    obj, requirement, text = SECOND_LOCATIONS[case]
    uid = f"second-location-{case}"
    denied = answer(gate, obj, uid=uid)
    assert denied["allowed"] is False
    lines = denied["status"]["message"].splitlines()[1:]
    assert [line.split("]")[0].lstrip("[") for line in lines] == [requirement] and text in lines[0], lines
    listed = run_cli("audit", "list", "--audit-db", gate.audit_db, "--format", "json", "--limit", "1000")
    assert [r["outcome"] for r in listed.json() if r.get("request_uid") == uid] == ["denied"]


@pytest.mark.parametrize("api_version, kind, spec", [
    ("apps/v1", "DaemonSet", {"template": {"spec": {"containers": [VLLM_IMAGE]}}}),
    ("batch/v1", "CronJob", {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
        "containers": [VLLM_IMAGE]}}}}}),
    ("v1", "ReplicationController", {"template": {"spec": {"containers": [VLLM_IMAGE]}}}),
])
def test_other_workload_kinds_running_a_model_server_are_judged(gate, api_version, kind, spec):
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "llm", "namespace": "lending"}, "spec": spec}
    denied = answer(gate, obj)
    assert denied["allowed"] is False
    assert f"[evidence.model_reference] @: {kind} runs model server vLLM" in denied["status"]["message"]
