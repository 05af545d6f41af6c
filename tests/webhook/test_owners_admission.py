"""Owner references at admission (README "Owners"): an object a controller of the serving
table owns is exempt only when the owner is confirmed real. This gate has no Kubernetes API
to ask (no kubeconfig, not in a cluster), so a claimed owner fails closed; Kubernetes' own
controllers are trusted without asking, and an owner whose row names its controllers
(ReplicaSet) counts in no one else's request. tests/e2e/test_as_deployed_e2e.py confirms
real and forged owners against a real API server. The operators' rows name their
controllers (the service accounts of their default installations): anyone else's object
naming such an owner is judged itself, without asking, and its denial says which row's
`controllers` would let the operator's children through."""

import pytest

from .server import GateProcess
from .test_serving_admission import answer

VLLM = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", "s3://models/credit-scoring/3"]}
NGINX = {"name": "web", "image": "nginx:1.27"}
FORGED_RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "llm-7d9", "uid": "made-up", "controller": True}
FORGED_ISVC = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "name": "scorer",
               "uid": "made-up", "controller": True}
FORGED_SERVER = {"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server", "name": "mlserver", "uid": "made-up",
                 "controller": True}
UNCONFIRMED = "no Kubernetes API is configured to confirm the owner InferenceService/scorer (uid made-up)"
KSERVE = "system:serviceaccount:kserve:kserve-controller-manager"
MODELMESH = "system:serviceaccount:modelmesh-serving:modelmesh-controller"
FORGED_RUNTIME = {"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime", "name": "vllm-runtime",
                  "uid": "made-up", "controller": True}


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """A gate outside any cluster, given no kubeconfig: no API to confirm an owner with."""
    process = GateProcess(tmp_path_factory.mktemp("gate"), env={"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""})
    yield process.start()
    process.stop()


def pod(container, owner=None):
    meta = {"name": "p", "namespace": "lending", **({"ownerReferences": [owner]} if owner else {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container]}}


def test_a_claimed_owner_that_cannot_be_confirmed_fails_closed_in_production(gate):
    denied = answer(gate, pod(VLLM, FORGED_ISVC), user=KSERVE)
    assert denied["allowed"] is False
    assert denied["status"]["message"] == (
        f"model-gatekeeper could not evaluate the policy, so it denies (fail closed): {UNCONFIRMED}")


def test_and_is_admitted_with_a_warning_where_enforcement_is_warn(gate):
    warned = answer(gate, pod(VLLM, FORGED_ISVC), "/validate/staging", user=KSERVE)
    assert warned["allowed"] is True and warned["warnings"] == [f"policy not enforced: {UNCONFIRMED}"]


def deployment(container, owner):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "llm", "namespace": "lending", "ownerReferences": [owner]},
            "spec": {"template": {"spec": {"containers": [container]}}}}


@pytest.mark.parametrize("owner, row, controllers", [
    (FORGED_ISVC, "InferenceService (serving.kserve.io)", KSERVE),
    (FORGED_RUNTIME, "ServingRuntime (serving.kserve.io)", MODELMESH),
])
def test_a_deployment_made_by_hand_naming_an_operators_object_is_judged_itself_naming_the_row(gate, owner, row,
                                                                                              controllers):
    denied = answer(gate, deployment(VLLM, owner), user="alice@example.com")
    assert denied["allowed"] is False
    lines = denied["status"]["message"].splitlines()
    assert lines[1:] == [
        "[evidence.model_reference] Deployment runs model server vLLM (image vllm/vllm-openai:v0.6.3) but has no "
        f"model-gatekeeper.io/model annotation naming its model; its owner {owner['kind']}/{owner['name']} exempts "
        f"only what the `controllers` of the row {row} of the serving-kinds table create ({controllers}), not "
        "alice@example.com's requests; if the operator runs as another service account, name it there"
        " [EU AI Act Art. 11, Annex IV]"]  # the articles evidence.model_reference serves (regulations/map.yaml)
    # the operator's own request is exempt once its owner is confirmed: here no API to ask
    by_operator = answer(gate, deployment(VLLM, owner), user=controllers)
    assert by_operator["allowed"] is False and "could not evaluate" in by_operator["status"]["message"]


@pytest.mark.parametrize("user", ["system:serviceaccount:kube-system:replicaset-controller",
                                  "system:serviceaccount:kube-system:job-controller", "system:kube-controller-manager"])
def test_kubernetes_own_controllers_are_trusted_without_asking(gate, user):
    assert answer(gate, pod(VLLM, FORGED_RS), user=user, uid="c") == {"uid": "c", "allowed": True}


@pytest.mark.parametrize("user", ["system:serviceaccount:lending:replicaset-controller",
                                  "system:serviceaccount:kube-system:replicaset-controller-x", "replicaset-controller"])
def test_look_alike_identities_are_not(gate, user):
    assert answer(gate, pod(VLLM, FORGED_RS), user=user)["allowed"] is False


def test_a_pod_naming_a_replicaset_in_anyone_elses_request_is_judged_itself_without_asking(gate):
    # only Kubernetes' own controllers make a ReplicaSet's Pods: no owner to confirm, and
    # the un-annotated model server is denied on its own account, not for a missing API
    denied = answer(gate, pod(VLLM, FORGED_RS))
    assert denied["allowed"] is False
    assert "[evidence.model_reference] Pod runs model server vLLM" in denied["status"]["message"]
    assert "could not evaluate" not in denied["status"]["message"]


def test_an_owned_object_that_serves_no_model_is_answered_without_asking(gate):
    # judged as if unowned first: nothing to judge, so the owner does not matter
    assert answer(gate, pod(NGINX, FORGED_RS), uid="o") == {"uid": "o", "allowed": True}


def test_a_deployment_claimed_by_an_owner_only_kind_is_confirmed_too(gate):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": {"name": "mlserver", "namespace": "lending", "ownerReferences": [FORGED_SERVER]},
                  "spec": {"template": {"spec": {"containers": [{"name": "mlserver", "image": "seldonio/mlserver:1.6.1"}]}}}}
    denied = answer(gate, deployment, user="system:serviceaccount:seldon-mesh:seldon-v2-controller-manager")
    assert denied["allowed"] is False
    assert "no Kubernetes API is configured to confirm the owner Server/mlserver (uid made-up)" in denied["status"]["message"]
