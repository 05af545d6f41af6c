"""Owner references (README "Owners"): which controller's judgement covers an object, the
owner-only kinds of the serving table, and the identities trusted without a look-up. The
table is the one the real OPA serves; confirming owners against a real API server is
tests/e2e/test_as_deployed_e2e.py's."""

from types import SimpleNamespace

import pytest

from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.pipeline.owners import made_by_hand
from gatekeeper.pipeline.serving import ServingKinds, built_in_controller
from gatekeeper.pipeline.workloads import served_models

from .test_workloads import kinds  # noqa: F401 - the serving table as OPA serves it

VLLM = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3"}
MLSERVER = {"name": "mlserver", "image": "seldonio/mlserver:1.6.1"}


def controlled_by(api_version, kind, name="owner", uid="u-1"):
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}


def pod(*owners, container=VLLM):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns", "ownerReferences": list(owners)},
            "spec": {"containers": [container]}}


def workload(kind, *owners, container=MLSERVER):
    return {"apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": "w", "namespace": "ns", "ownerReferences": list(owners)},
            "spec": {"template": {"spec": {"containers": [container]}}}}


@pytest.mark.parametrize("owner, resource, version", [
    (controlled_by("apps/v1", "ReplicaSet"), "replicasets", "v1"),
    (controlled_by("batch/v1", "Job"), "jobs", "v1"),
    (controlled_by("apps/v1", "StatefulSet"), "statefulsets", "v1"),
    (controlled_by("serving.kserve.io/v1beta1", "InferenceService"), "inferenceservices", "v1beta1"),
    # a version the table does not list is read at the table's first
    (controlled_by("serving.kserve.io/v9", "InferenceService"), "inferenceservices", "v1beta1"),
])
def test_a_pod_is_covered_by_a_template_or_serving_owner(kinds, owner, resource, version):
    claimed = kinds.controller_owner(pod(owner), kinds.kind_of("", "Pod"))
    assert (claimed.row.resource, claimed.version, claimed.name, claimed.uid, claimed.namespace) == (
        resource, version, "owner", "u-1", "ns")
    assert served_models(pod(owner), kinds).skip_reason == f"created by {owner['kind']}/owner, judged there"


@pytest.mark.parametrize("owners", [
    [controlled_by("v1", "Pod")],  # a Pod makes nothing: it covers nothing
    [controlled_by("example.com/v1", "ReplicaSet")],  # not the table's ReplicaSet
    [{**controlled_by("apps/v1", "ReplicaSet"), "controller": False}],  # not the controller
    [],
])
def test_other_references_cover_nothing(kinds, owners):
    assert kinds.controller_owner(pod(*owners), kinds.kind_of("", "Pod")) is None
    assert served_models(pod(*owners), kinds).gated


@pytest.mark.parametrize("owner, namespace", [
    (controlled_by("mlops.seldon.io/v1alpha1", "Server"), "ns"),
    (controlled_by("serving.kserve.io/v1alpha1", "ServingRuntime"), "ns"),
    (controlled_by("serving.kserve.io/v1alpha1", "ClusterServingRuntime"), None),  # cluster-scoped: no namespace
    (controlled_by("serving.kserve.io/v1beta1", "InferenceService"), "ns"),
])
@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_deployments_and_statefulsets_are_covered_by_serving_and_owner_only_kinds(kinds, owner, namespace, kind):
    obj = workload(kind, owner)
    claimed = kinds.controller_owner(obj, kinds.kind_of("apps", kind))
    assert (claimed.display(), claimed.namespace) == (f"{owner['kind']}/owner", namespace)
    assert served_models(obj, kinds).skip_reason == f"created by {owner['kind']}/owner, judged there"


def test_a_deployment_is_not_covered_by_a_template_kind(kinds):
    obj = workload("Deployment", controlled_by("apps/v1", "ReplicaSet"))
    assert kinds.controller_owner(obj, kinds.kind_of("apps", "Deployment")) is None
    assert served_models(obj, kinds).gated


def test_to_be_confirmed_the_object_is_judged_as_if_unowned_and_carries_its_owner(kinds):
    owner = controlled_by("mlops.seldon.io/v1alpha1", "Server", "mlserver")
    served = served_models(workload("StatefulSet", owner), kinds, confirm_owner=True)
    assert served.gated and served.owner.display() == "Server/mlserver"
    assert served.reference_errors == ["StatefulSet runs model server Seldon runtime (image seldonio/mlserver:1.6.1) "
                                       "but has no model-gatekeeper.io/model annotation naming its model"]
    # nothing to judge without the owner: nothing to confirm either
    plain = served_models(workload("Deployment", owner, container={"name": "web", "image": "nginx:1.27"}), kinds,
                          confirm_owner=True)
    assert not plain.gated and plain.owner is None


def test_owner_only_kinds_are_not_judged_themselves(kinds):
    server = {"apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server", "metadata": {"name": "mlserver"},
              "spec": {"serverConfig": "mlserver"}}
    served = served_models(server, kinds)
    assert not served.gated and served.skip_reason == "owner-only kind: serves no model itself"
    assert kinds.kind_of("mlops.seldon.io", "Server") is None


@pytest.mark.parametrize("user, trusted", [
    ("system:kube-controller-manager", True),
    ("system:serviceaccount:kube-system:replicaset-controller", True),
    ("system:serviceaccount:kube-system:job-controller", True),
    ("system:serviceaccount:kube-system:statefulset-controller", True),
    ("system:serviceaccount:kube-system:daemon-set-controller", True),
    ("system:serviceaccount:kube-system:cronjob-controller", True),
    ("system:serviceaccount:kserve:kserve-controller-manager", False),
    ("system:serviceaccount:lending:replicaset-controller", False),
    ("system:serviceaccount:kube-system:replicaset-controller-x", False),
    ("replicaset-controller", False), ("", False), (None, False),
])
def test_kubernetes_own_controllers_are_trusted(user, trusted):
    assert built_in_controller(user) is trusted


USERS = ["system:kube-controller-manager", "system:serviceaccount:kube-system:replicaset-controller",
         "system:serviceaccount:kube-system:job-controller", "system:serviceaccount:kserve:kserve-controller-manager",
         "system:serviceaccount:lending:replicaset-controller", "alice", "", None]


@pytest.mark.parametrize("kind", [("apps", "Deployment"), ("apps", "StatefulSet"), ("apps", "ReplicaSet"),
                                  ("batch", "Job")])
def test_only_kubernetes_own_controllers_create_what_a_built_in_template_kind_owns(kinds, kind):
    # a Pod made by hand naming a real ReplicaSet is judged itself (pipeline.gate), whatever
    # the ReplicaSet runs: the same identities deploy/'s matchCondition lets skip the gate
    row = kinds.kind_of(*kind)
    assert [row.creates_children(user) for user in USERS] == [built_in_controller(user) for user in USERS]


# The service accounts of each operator's default upstream installation (the table names the
# release file each comes from).
OPERATORS = {
    ("serving.kserve.io", "InferenceService"): "system:serviceaccount:kserve:kserve-controller-manager",
    ("serving.kserve.io", "TrainedModel"): "system:serviceaccount:kserve:kserve-controller-manager",
    ("serving.kserve.io", "LLMInferenceService"): "system:serviceaccount:kserve:llmisvc-controller-manager",
    ("serving.kserve.io", "Predictor"): "system:serviceaccount:modelmesh-serving:modelmesh-controller",
    ("serving.kserve.io", "ServingRuntime"): "system:serviceaccount:modelmesh-serving:modelmesh-controller",
    ("serving.kserve.io", "ClusterServingRuntime"): "system:serviceaccount:modelmesh-serving:modelmesh-controller",
    ("serving.kubeflow.org", "InferenceService"): "system:serviceaccount:kfserving-system:default",
    ("mlops.seldon.io", "Model"): "system:serviceaccount:seldon-mesh:seldon-v2-controller-manager",
    ("mlops.seldon.io", "Explainer"): "system:serviceaccount:seldon-mesh:seldon-v2-controller-manager",
    ("mlops.seldon.io", "Server"): "system:serviceaccount:seldon-mesh:seldon-v2-controller-manager",
    ("machinelearning.seldon.io", "SeldonDeployment"): "system:serviceaccount:seldon-system:seldon-manager",
    ("leaderworkerset.x-k8s.io", "LeaderWorkerSet"): "system:serviceaccount:lws-system:lws-controller-manager",
}


def test_operators_rows_name_their_default_installations_controllers(kinds):
    rows = {**kinds.kinds, **kinds.owner_only}
    assert {key: rows[key].controllers for key in OPERATORS} == {key: (user,) for key, user in OPERATORS.items()}
    # every row that can own something names who creates its children
    assert [key for key, row in rows.items() if not row.controllers] == [("", "Pod")]
    for key, user in OPERATORS.items():
        assert [rows[key].creates_children(u) for u in USERS + [user]] == [u == user for u in USERS + [user]]


def test_an_owner_whose_row_names_no_controllers_exempts_nothing_at_any_door():
    # a custom table listing a kind without `controllers` is closed until someone names them
    data = {"kinds": [{"group": "serving.example.com", "kind": "Endpoint", "serves": "always"},
                      {"group": "apps", "kind": "Deployment", "serves": "model-server", "template": "spec.template",
                       "containers": ["spec.template.spec.containers.*"]}],
            "servers": [{"name": "vLLM", "images": ["vllm"], "args": ["--model"]}]}
    table = ServingKinds.from_data(data)
    obj = workload("Deployment", controlled_by("serving.example.com/v1", "Endpoint", "chat"), container=VLLM)
    row = table.kind_of("apps", "Deployment")
    owner = table.controller_owner(obj, row)
    assert owner is not None and not owner.counts and not owner.row.creates_children("anyone")
    # the auditor lists it as a workload of its own, not one its owner's report covers
    auditor = Auditor.__new__(Auditor)
    auditor.gate = SimpleNamespace(kinds=table)
    assert not auditor._owned(obj)
    auditor.gate = SimpleNamespace(kinds=ServingKinds.from_data({**data, "kinds": [
        {"group": "serving.example.com", "kind": "Endpoint", "serves": "always", "controllers": ["system:*"]},
        {"group": "apps", "kind": "Deployment", "serves": "model-server", "template": "spec.template",
         "containers": ["spec.template.spec.containers.*"]}]}))
    assert auditor._owned(obj)  # once the row names its controllers, a reference in the cluster counts
    for confirm in (False, True):  # the auditor's listing, admission and `check`
        served = served_models(obj, table, confirm_owner=confirm)
        assert served.gated and served.owner is None and served.skip_reason is None
        assert served.reference_errors == [
            "Deployment runs model server vLLM (image vllm/vllm-openai:v0.6.3) but has no model-gatekeeper.io/model "
            "annotation naming its model; its owner Endpoint/chat exempts nothing: the row Endpoint "
            "(serving.example.com) of the serving-kinds table names no `controllers`; name there the service "
            "account that creates its children"]


def test_a_row_naming_its_controllers_trusts_their_requests_only():
    table = ServingKinds.from_data({"kinds": [{"group": "serving.kserve.io", "kind": "InferenceService",
                                               "controllers": ["system:serviceaccount:kserve:*"]}]})
    row = table.kind_of("serving.kserve.io", "InferenceService")
    assert row.creates_children("system:serviceaccount:kserve:kserve-controller-manager")
    assert not row.creates_children("system:serviceaccount:lending:kserve-controller-manager")
    assert not row.creates_children("alice") and not row.creates_children(None)


def test_what_a_request_puts_under_an_owner_made_by_hand(kinds):
    rs = controlled_by("apps/v1", "ReplicaSet", "llm-7d9", "u-rs")
    made = pod(rs)
    owner = kinds.controller_owner(made, kinds.kind_of("", "Pod"))
    debugged = {**made, "spec": {**made["spec"], "ephemeralContainers": [{"name": "sh", "image": "busybox:1.36"}]}}
    relabelled = {**made, "metadata": {**made["metadata"], "labels": {"team": "risk"}}}
    swapped = {**made, "spec": {"containers": [{**VLLM, "image": "vllm/vllm-openai:v0.7.0"}]}}
    assert made_by_hand(owner, made, None, "alice")  # a CREATE by hand
    assert not made_by_hand(owner, made, None, "system:serviceaccount:kube-system:replicaset-controller")
    assert made_by_hand(owner, made, pod(), "alice")  # the reference added by an UPDATE
    assert made_by_hand(owner, made, pod({**rs, "uid": "u-other"}), "alice")  # ... or swapped
    # an UPDATE keeping the reference: its owner still covers it unless what it runs changed
    assert not made_by_hand(owner, relabelled, made, "alice")
    assert not made_by_hand(owner, debugged, made, "alice")  # kubectl debug: containers added later
    assert made_by_hand(owner, swapped, made, "alice")
    # an operator's object: only its controller's requests count (then confirmed real)
    isvc = kinds.controller_owner(workload("Deployment", controlled_by("serving.kserve.io/v1beta1", "InferenceService")),
                                  kinds.kind_of("apps", "Deployment"))
    assert made_by_hand(isvc, workload("Deployment"), None, "alice")
    assert made_by_hand(isvc, workload("Deployment"), None, None)  # `gatekeeper check`: no user
    assert not made_by_hand(isvc, workload("Deployment"), None, "system:serviceaccount:kserve:kserve-controller-manager")
