"""The webhook's answers for the ways around the gate: unidentified model servers, plain
model names, wrong shapes, the environment label; never a 5xx."""

import httpx
import pytest

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
