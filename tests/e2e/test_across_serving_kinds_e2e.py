"""The ways around the gate, closed as deployed: a real kube-apiserver with deploy/'s
rendered ValidatingWebhookConfiguration (every kind of the serving-kinds table, every
Deployment of a governed namespace, the environment-label guard) calling the real gate.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from .conftest import PRODUCTION
from .kube import Kube, requirement_ids, status_message

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("webhook")]

MODEL = "models:/credit-scoring/3"
GOOD = "s3://models/credit-scoring/3"
BAD = "s3://models/credit-scoring/2"
LABEL = "model-gatekeeper.io/environment"


def denied(kube: Kube, obj: dict[str, Any]) -> str:
    exc = kube.rejected(lambda: kube.create(obj))
    assert exc.status == 403, exc.body
    message = status_message(exc)
    assert 'admission webhook "production.validate.model-gatekeeper.io" denied the request' in message, message
    return message


def meta(name: str, annotated: bool = True) -> dict[str, Any]:
    return {"name": name, "namespace": PRODUCTION, **({"annotations": {"model-gatekeeper.io/model": MODEL}} if annotated else {})}


def deployment(name: str, container: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(name, annotated=False),
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}}


def test_unannotated_vllm_deployment_is_rejected(kube: Kube):
    vllm = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", GOOD]}
    message = denied(kube, deployment("llm", vllm))
    assert requirement_ids(message) == {"evidence.model_reference"}
    assert "model server vLLM (image vllm/vllm-openai:v0.6.3)" in message


def test_ordinary_deployment_is_still_created(kube: Kube):
    written = kube.create(deployment("web", {"name": "web", "image": "nginx:1.27"}))
    assert written.object["metadata"]["uid"] and written.warnings == []
    kube.delete("Deployment", PRODUCTION, "web")


def test_seldon_deployment_is_rejected(kube: Kube):
    graph = {"name": "classifier", "implementation": "SKLEARN_SERVER", "modelUri": GOOD,
             "children": [{"name": "child", "implementation": "SKLEARN_SERVER", "modelUri": BAD}]}
    obj = {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment", "metadata": meta("sdep"),
           "spec": {"predictors": [{"name": "default", "graph": graph}]}}
    message = denied(kube, obj)
    assert requirement_ids(message) == {"artifact.storage_uri_mismatch"}
    assert "spec.predictors[0].graph.children[0].modelUri" in message


def test_unannotated_seldon_deployment_is_rejected(kube: Kube):
    obj = {"apiVersion": "machinelearning.seldon.io/v1", "kind": "SeldonDeployment", "metadata": meta("sdep2", False),
           "spec": {"predictors": [{"name": "default", "graph": {"name": "c", "modelUri": GOOD}}]}}
    assert requirement_ids(denied(kube, obj)) == {"evidence.model_reference"}


def test_trained_model_is_rejected(kube: Kube):
    obj = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "TrainedModel", "metadata": meta("tm"),
           "spec": {"inferenceService": "multi", "model": {"framework": "sklearn", "storageUri": BAD, "memory": "1Gi"}}}
    assert requirement_ids(denied(kube, obj)) == {"artifact.storage_uri_mismatch"}


def test_inference_service_with_a_mismatching_storage_uri_env_is_rejected(kube: Kube):
    container = {"name": "kserve-container", "image": "registry.example.com/scorer:3",
                 "env": [{"name": "STORAGE_URI", "value": BAD}]}
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta("isvc-env"),
           "spec": {"predictor": {"containers": [container]}}}
    message = denied(kube, obj)
    assert requirement_ids(message) == {"artifact.storage_uri_mismatch"}
    assert "spec.predictor.containers[0].env.STORAGE_URI (component kserve-container)" in message


def test_wrong_shape_is_denied_naming_the_field(kube: Kube):
    obj = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": meta("isvc-list"),
           "spec": {"predictor": [{"model": {"storageUri": GOOD}}]}}
    message = denied(kube, obj)
    assert requirement_ids(message) == {"evidence.model_reference"}
    assert "spec.predictor: expected a map, found a list" in message


def test_llm_inference_service_is_rejected(kube: Kube):
    obj = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "LLMInferenceService", "metadata": meta("llm"),
           "spec": {"model": {"uri": BAD}}}
    assert requirement_ids(denied(kube, obj)) == {"artifact.storage_uri_mismatch"}


def debug(kube: Kube, name: str, container: dict[str, Any], *, patch: bool) -> None:
    """`kubectl debug`: the pods/ephemeralcontainers subresource, by PATCH (as kubectl does)
    or by UPDATE with the whole Pod; either reaches admission as an UPDATE of that subresource."""
    if patch:
        kube.core.patch_namespaced_pod_ephemeralcontainers(name, PRODUCTION, {"spec": {"ephemeralContainers": [container]}})
        return
    pod = kube.api_client.sanitize_for_serialization(kube.core.read_namespaced_pod(name, PRODUCTION))
    pod["spec"].setdefault("ephemeralContainers", []).append(container)
    kube.core.replace_namespaced_pod_ephemeralcontainers(name, PRODUCTION, pod)


def test_kubectl_debug_adding_a_model_server_to_a_running_pod_is_rejected(kube: Kube):
    # A Pod its ReplicaSet created: its CREATE is not even sent to the gate (direct-only), but
    # the containers added to it later are (no owner judged them).
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9", "controller": True,
             "uid": "6f1c8a52-0000-4000-8000-000000000001"}
    kube.core.create_namespaced_pod(PRODUCTION, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-7d9-x", "namespace": PRODUCTION,
                                                         "ownerReferences": [owner]},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    try:
        vllm = {"name": "llm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", GOOD]}
        exc = kube.rejected(lambda: debug(kube, "web-7d9-x", vllm, patch=True))
        assert exc.status == 403, exc.body
        message = status_message(exc)
        assert 'admission webhook "production.validate.model-gatekeeper.io" denied the request' in message, message
        assert requirement_ids(message) == {"evidence.model_reference"}
        assert "model server vLLM (image vllm/vllm-openai:v0.6.3)" in message
        assert not kube.core.read_namespaced_pod("web-7d9-x", PRODUCTION).spec.ephemeral_containers

        # an ordinary debug container is added
        busybox = {"name": "debugger", "image": "busybox:1.36", "command": ["sh"], "stdin": True, "tty": True}
        debug(kube, "web-7d9-x", busybox, patch=False)
        stored = kube.core.read_namespaced_pod("web-7d9-x", PRODUCTION)
        assert [(c.name, c.image) for c in stored.spec.ephemeral_containers] == [("debugger", "busybox:1.36")]
    finally:
        kube.core.delete_namespaced_pod("web-7d9-x", PRODUCTION, grace_period_seconds=0)


@pytest.fixture
def dave(kube: Kube, api_client: client.ApiClient):
    """A user allowed by RBAC to edit namespaces but not named in the policy data."""
    rbac = client.RbacAuthorizationV1Api(kube.api_client)
    rbac.create_cluster_role({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                              "metadata": {"name": "e2e-namespace-editor"},
                              "rules": [{"apiGroups": [""], "resources": ["namespaces"],
                                         "verbs": ["get", "create", "update", "patch"]}]})
    rbac.create_cluster_role_binding({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                                      "metadata": {"name": "e2e-namespace-editor"},
                                      "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                  "name": "e2e-namespace-editor"},
                                      "subjects": [{"kind": "User", "name": "dave",
                                                    "apiGroup": "rbac.authorization.k8s.io"}]})
    impersonating = client.ApiClient(api_client.configuration)
    impersonating.set_default_header("Impersonate-User", "dave")
    try:
        yield client.CoreV1Api(impersonating)
    finally:
        rbac.delete_cluster_role_binding("e2e-namespace-editor")
        rbac.delete_cluster_role("e2e-namespace-editor")
        impersonating.close()


def test_environment_label_is_guarded(kube: Kube, dave: client.CoreV1Api):
    admin = client.CoreV1Api(kube.api_client)
    admin.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": "guarded", "labels": {LABEL: "production"}}})
    for labels in ({LABEL: None}, {LABEL: "development"}):
        exc = kube.rejected(lambda labels=labels: dave.patch_namespace("guarded", {"metadata": {"labels": labels}}))
        assert exc.status == 403, exc.body
        message = status_message(exc)
        assert requirement_ids(message) == {"namespace.environment_label"}, message
        assert "user dave may not" in message
    assert admin.read_namespace("guarded").metadata.labels[LABEL] == "production"
    exc = kube.rejected(lambda: dave.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "sneaky", "labels": {LABEL: "development"}}}))
    assert exc.status == 403 and "may not set the namespace label" in status_message(exc)
    # other labels stay anyone's, and a named identity (system:masters) may change this one
    dave.patch_namespace("guarded", {"metadata": {"labels": {"team": "lending"}}})
    admin.patch_namespace("guarded", {"metadata": {"labels": {LABEL: None}}})
    assert LABEL not in (admin.read_namespace("guarded").metadata.labels or {})
