"""The gate as deploy/ runs it answers a real kube-apiserver (issue 13, deploy/README.md).

The wheel, built and installed as the Dockerfile does (no extras), runs as the rendered
Deployment's containers (tests/e2e/deployed.py): deploy/'s args and env, OPA as the sidecar
with the generated policies ConfigMap, HTTPS with a certificate from the CA the webhook
configuration trusts, a read-only root filesystem, and the cluster reached in-cluster as
deploy/'s service account, with deploy/'s RBAC and nothing more. The API server presents the
admission token through deploy/apiserver/'s AdmissionConfiguration (conftest.apiserver_auth).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from gatekeeper.auditor.client import Cluster
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.config import Settings
from gatekeeper.pipeline.assemble import open_gate

from ..audit.audit_pg_server import PostgresServer
from ..audit.conftest import postgres_server  # noqa: F401 - the real PostgreSQL deploy/'s audit Secret names
from ..conftest import EVIDENCE
from ..webhook.server import review
from .cluster import KubeControlPlane
from .conftest import ENVIRONMENT_LABEL, GATE_NAMESPACE, ApiServerAuth, load_manifest
from .deployed import Pod, install_image_wheel, registered_webhooks
from .kube import MODEL_ANNOTATION, Kube, requirement_ids, status_message, wait_for, with_namespace

pytestmark = pytest.mark.e2e

PROD, STAGE, PLAIN = "deployed-production", "deployed-staging", "deployed-unlabelled"
SERVICE_ACCOUNT = "model-gatekeeper"
WEBHOOK_NAME = "model-gatekeeper-as-deployed"


class Deployed:
    def __init__(self, pod: Pod, venv: Path, audit_db: str, evaluate_token: str, admission_token: str,
                 ca_file: Path, control_plane: KubeControlPlane) -> None:
        self.pod, self.venv, self.audit_db = pod, venv, audit_db
        self.evaluate_token, self.admission_token = evaluate_token, admission_token
        self.url = f"https://127.0.0.1:{pod.port}"
        self.verify = ssl.create_default_context(cafile=str(ca_file))
        self.control_plane = control_plane
        self.ready_seconds = 0.0  # from starting the containers to the readiness probe's 200

    def gatekeeper(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The installed `gatekeeper` command (the image's), as an operator runs it."""
        return subprocess.run([str(self.venv / "bin" / "gatekeeper"), *args], capture_output=True, text=True,
                              timeout=60)

    def records(self, **match: Any) -> list[dict[str, Any]]:
        done = self.gatekeeper("audit", "list", "--audit-db", self.audit_db, "--format", "json", "--limit", "10000")
        assert done.returncode == 0, done.stdout + done.stderr
        return [r for r in json.loads(done.stdout) if all(r["object"].get(k) == v for k, v in match.items())]

    def post(self, path: str, body: dict[str, Any], token: str | None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.post(self.url + path, json=body, headers=headers, verify=self.verify, timeout=10)


def apply(dynamic: DynamicClient, obj: dict[str, Any]) -> None:
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                              field_manager="as-deployed-e2e")


@pytest.fixture(scope="module")
def deployed(kube: Kube, control_plane: KubeControlPlane, apiserver_auth: ApiServerAuth,
             deploy_base: list[dict[str, Any]], postgres_server: PostgresServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    work = tmp_path_factory.mktemp("as-deployed")
    venv = install_image_wheel(work / "image")
    dynamic = DynamicClient(kube.api_client)
    # deploy/'s namespace, service account and RBAC, and nothing more for the gate.
    for obj in deploy_base:
        if obj["kind"] in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
            apply(dynamic, obj)
    for name, labels in ((PROD, {ENVIRONMENT_LABEL: "production"}), (STAGE, {ENVIRONMENT_LABEL: "staging"}),
                         (PLAIN, {})):
        kube.core.create_namespace({"metadata": {"name": name, "labels": labels}})
    token = kube.core.create_namespaced_service_account_token(
        SERVICE_ACCOUNT, GATE_NAMESPACE, {"spec": {"expirationSeconds": 3600}}).status.token

    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE gatekeeper")
    audit_db = postgres_server.url_for("gatekeeper")
    evaluate_token = secrets.token_urlsafe(24)
    cert, key = control_plane.issue_cert("model-gatekeeper.model-gatekeeper-system.svc", ip_addresses=["127.0.0.1"],
                                         dns_names=["model-gatekeeper.model-gatekeeper-system.svc"])
    # The checkpoint key an operator makes once with the image's own keygen (deploy/README.md).
    log_key = work / "log.key"
    made = subprocess.run([str(venv / "bin" / "gatekeeper"), "keygen", "--log", "e2e.example/model-gatekeeper",
                           "--out", str(log_key)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    pod = Pod(deploy_base, work / "pod", venv=venv, api_port=control_plane.port, sa_token=token,
              ca_pem=control_plane.ca_pem, evidence=EVIDENCE, port=apiserver_auth.gate_port, secrets={
                  "model-gatekeeper-tls": {"tls.crt": cert, "tls.key": key},
                  "model-gatekeeper-audit": {"url": audit_db.encode()},
                  "model-gatekeeper-log-key": {"key": log_key.read_bytes()},
                  "model-gatekeeper-tokens": {"admission": apiserver_auth.token.encode(),
                                              "evaluate": evaluate_token.encode()},
              })
    gate = Deployed(pod, venv, audit_db, evaluate_token, apiserver_auth.token, control_plane.ca_cert_path,
                    control_plane)
    started = time.monotonic()
    pod.start()
    try:
        pod.wait_ready(gate.verify)
        gate.ready_seconds = time.monotonic() - started
        # deploy/'s webhook configuration, its Service reference replaced by this gate's URL
        with registered_webhooks(kube, deploy_base, WEBHOOK_NAME, gate.url,
                                 base64.b64encode(control_plane.ca_pem).decode(), PROD,
                                 lambda name: gate.records(name=name)):
            yield gate
    finally:
        pod.stop()


# --- the install ---------------------------------------------------------------------------


def test_every_module_imports_in_the_image_install(deployed: Deployed):
    # the crash of issue 13 was an import only a cluster reaches; import them all, no extras
    code = ("import importlib, pkgutil, gatekeeper\n"
            "for m in pkgutil.walk_packages(gatekeeper.__path__, 'gatekeeper.'):\n"
            "    if not m.name.endswith('__main__'):  # `python -m gatekeeper` runs the CLI\n"
            "        importlib.import_module(m.name)\n")
    done = subprocess.run([str(deployed.venv / "bin" / "python"), "-c", code], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "KUBERNETES_SERVICE_HOST": "127.0.0.1"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_probes_answer_on_the_paths_and_port_deploy_declares(deployed: Deployed):
    gate = deployed.pod.containers["gatekeeper"]
    for name in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = gate[name]["httpGet"]
        assert get["scheme"] == "HTTPS"
        # Pod maps the declared port (the same for the probes, the container and --port) to pod.port
        answer = httpx.get(f"https://127.0.0.1:{deployed.pod.port}{get['path']}", verify=deployed.verify, timeout=5)
        assert answer.status_code == 200, (name, answer.text)


# --- admissions through the API server ---------------------------------------------------------


def isvc(namespace: str, name: str, version: str = "3") -> dict[str, Any]:
    obj = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), namespace, name)
    obj["metadata"]["annotations"][MODEL_ANNOTATION] = f"models:/credit-scoring/{version}"
    obj["spec"]["predictor"]["model"]["storageUri"] = f"s3://models/credit-scoring/{version}"
    return obj


def test_the_api_servers_reviews_are_judged_per_environment_and_recorded(kube: Kube, deployed: Deployed):
    kube.create(isvc(PROD, "scoring-ok"))
    error = kube.rejected(lambda: kube.create(isvc(PROD, "scoring-unfair", "4")))
    assert error.status == 403 and "fairness.demographic_parity_ratio" in status_message(error)
    warned = kube.create(isvc(STAGE, "scoring-unfair", "4"))  # staging warns
    assert any("fairness.demographic_parity_ratio" in w for w in warned.warnings), warned.warnings

    def one(namespace: str, name: str) -> dict[str, Any]:
        [record] = deployed.records(namespace=namespace, name=name)
        return record

    assert (one(PROD, "scoring-ok")["outcome"], one(PROD, "scoring-ok")["environment"]) == ("admitted", "production")
    assert one(PROD, "scoring-unfair")["outcome"] == "denied"
    staged = one(STAGE, "scoring-unfair")
    assert (staged["outcome"], staged["environment"], staged["source"]) == ("warned", "staging", "webhook")
    assert staged["user"] == "gatekeeper-e2e-admin"  # the API server's requester, not the gate's


def test_annotation_removal_is_admitted_and_recorded(kube: Kube, deployed: Deployed):
    obj = with_namespace(load_manifest("compliant/churn-predictor-deployment.yaml"), PROD, "scorer-later-plain")
    kube.create(obj)
    stored = kube.custom.get_namespaced_custom_object("apps", "v1", PROD, "deployments", "scorer-later-plain")
    del stored["spec"]["template"]["metadata"]["annotations"][MODEL_ANNOTATION]
    kube.replace(stored)
    records = deployed.records(namespace=PROD, name="scorer-later-plain")
    assert [(r["operation"], r["outcome"], r.get("reason")) for r in records] == [
        ("UPDATE", "admitted", "annotation_removed"), ("CREATE", "admitted", None)]


def test_validate_without_environment_reads_the_namespace_label_as_the_service_account(kube: Kube, deployed: Deployed):
    # deploy/'s RBAC lets the service account read namespaces, and nothing else
    reviews = client.AuthorizationV1Api(kube.api_client)
    user = f"system:serviceaccount:{GATE_NAMESPACE}:{SERVICE_ACCOUNT}"

    def may(verb: str, resource: str) -> bool:
        return reviews.create_subject_access_review({"spec": {"user": user, "resourceAttributes": {
            "verb": verb, "resource": resource}}}).status.allowed

    assert may("get", "namespaces") and not may("get", "secrets") and not may("create", "namespaces")

    unfair = isvc(STAGE, "label-lookup", "4")
    answers = {}
    for namespace in (STAGE, PROD, PLAIN):
        body = review(with_namespace(unfair, namespace))
        answer = deployed.post("/validate", body, deployed.admission_token)
        assert answer.status_code == 200, answer.text
        answers[namespace] = answer.json()["response"]["allowed"]
    assert answers == {STAGE: True, PROD: False, PLAIN: False}  # staging warns; unlabelled is production
    environments = {r["object"]["namespace"]: r["environment"] for r in deployed.records(name="label-lookup")}
    assert environments == {STAGE: "staging", PROD: "production", PLAIN: "production"}


# --- owners: an ownerReferences entry exempts only when the owner is real ------------------------------
# No controller runs here: owners are created as the admin (not a controller identity), and so
# are the objects naming them, unless a test impersonates the service account a row's
# `controllers` names. A ReplicaSet's Pods made by the admin are then judged themselves (its row
# names Kubernetes' own controllers); a Seldon Server's StatefulSet made as Seldon's operator is
# exempt once the gate has read the owner as deploy/'s service account.

VLLM = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3", "args": ["--model", "s3://models/credit-scoring/3"]}


def owned(kind: str, name: str, owner: dict[str, Any], container: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [container]}
    meta = {"name": name, "namespace": PROD, "labels": {"app": name}, "ownerReferences": [owner]}
    if kind == "Pod":
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"selector": {"matchLabels": {"app": name}}, "serviceName": name,
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def reference(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, **changes}


def create_pod(kube: Kube, pod: dict[str, Any]) -> Any:
    return kube.core.create_namespaced_pod(PROD, pod)


def test_the_gates_rbac_gets_owners_by_name_and_nothing_more(kube: Kube, deployed: Deployed):
    reviews = client.AuthorizationV1Api(kube.api_client)
    user = f"system:serviceaccount:{GATE_NAMESPACE}:{SERVICE_ACCOUNT}"

    def may(verb: str, group: str, resource: str) -> bool:
        return reviews.create_subject_access_review({"spec": {"user": user, "resourceAttributes": {
            "verb": verb, "group": group, "resource": resource, "namespace": PROD}}}).status.allowed

    assert may("get", "apps", "replicasets") and may("get", "batch", "jobs")
    assert may("get", "mlops.seldon.io", "servers") and may("get", "serving.kserve.io", "servingruntimes")
    assert not may("list", "apps", "replicasets") and not may("update", "apps", "replicasets")
    assert not may("get", "", "pods") and not may("get", "", "secrets")


def test_a_pod_naming_a_forged_replicaset_is_judged_and_rejected(kube: Kube, deployed: Deployed):
    forged = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "llm-7d9", "uid": str(uuid.uuid4()),
              "controller": True}
    error = kube.rejected(lambda: create_pod(kube, owned("Pod", "forged-owner", forged, VLLM)))
    assert error.status == 403, error.body
    message = status_message(error)
    assert requirement_ids(message) == {"evidence.model_reference"}, message
    assert "Pod runs model server vLLM (image vllm/vllm-openai:v0.6.3)" in message
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name="forged-owner")] == ["denied"]


def test_a_pod_made_by_hand_naming_its_real_replicaset_is_judged_itself(kube: Kube, deployed: Deployed):
    # Only the ReplicaSet controller makes a ReplicaSet's Pods (the table's `controllers`):
    # the admin's Pod is judged as if unowned, however real and compliant its owner is.
    replicaset = owned("ReplicaSet", "llm", {}, VLLM)
    del replicaset["metadata"]["ownerReferences"], replicaset["spec"]["serviceName"]
    replicaset["spec"]["template"]["metadata"]["annotations"] = {MODEL_ANNOTATION: "models:/credit-scoring/3"}
    replicaset = kube.custom.create_namespaced_custom_object("apps", "v1", PROD, "replicasets", replicaset)  # judged
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name="llm")] == ["admitted"]
    # vLLM serving another model, no annotation, "owned" by the compliant ReplicaSet: denied
    other = {**VLLM, "args": ["--model", "s3://models/unreviewed/1"]}
    error = kube.rejected(lambda: create_pod(kube, owned("Pod", "llm-x7k2p", reference(replicaset), other)))
    assert error.status == 403, error.body
    message = status_message(error)
    assert requirement_ids(message) == {"evidence.model_reference"}, message
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name="llm-x7k2p")] == ["denied"]
    # the same Pod carrying the ReplicaSet's annotation is judged on its own evidence: admitted
    annotated = owned("Pod", "llm-y8m3q", reference(replicaset), VLLM)
    annotated["metadata"]["annotations"] = {MODEL_ANNOTATION: "models:/credit-scoring/3"}
    assert create_pod(kube, annotated).metadata.uid
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name="llm-y8m3q")] == ["admitted"]


def test_a_real_but_ordinary_replicaset_covers_no_model_server_it_claims_to_own(kube: Kube, deployed: Deployed):
    busybox = {"name": "shell", "image": "busybox:1.36", "command": ["sleep", "3600"]}
    replicaset = owned("ReplicaSet", "plain", {}, busybox)
    del replicaset["metadata"]["ownerReferences"], replicaset["spec"]["serviceName"]
    replicaset = kube.custom.create_namespaced_custom_object("apps", "v1", PROD, "replicasets", replicaset)
    assert deployed.records(namespace=PROD, name="plain") == []  # an ordinary ReplicaSet: not gated
    # real owner, real uid, made by hand: the Pod is judged itself
    error = kube.rejected(lambda: create_pod(kube, owned("Pod", "plain-vllm", reference(replicaset), VLLM)))
    assert error.status == 403, error.body
    assert requirement_ids(status_message(error)) == {"evidence.model_reference"}
    # what the ReplicaSet itself runs is no model server: not gated either way
    assert create_pod(kube, owned("Pod", "plain-shell", reference(replicaset), busybox)).metadata.uid


@pytest.fixture
def as_operator(kube: Kube) -> Iterator[Any]:
    """Clients impersonating an operator's service account (as the table's `controllers` name
    it), allowed by RBAC to create Deployments and StatefulSets in the production namespace."""
    rbac = client.RbacAuthorizationV1Api(kube.api_client)
    made: list[tuple[str, client.ApiClient]] = []

    def impersonating(user: str) -> Kube:
        namespace, name = user.removeprefix("system:serviceaccount:").split(":")
        binding = f"e2e-operator-{len(made)}"
        rbac.create_namespaced_role(PROD, {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                                           "metadata": {"name": binding}, "rules": [
                                               {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
                                                "verbs": ["create"]}]})
        rbac.create_namespaced_role_binding(PROD, {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": binding},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
        api = client.ApiClient(kube.api_client.configuration)
        api.set_default_header("Impersonate-User", user)
        made.append((binding, api))
        return Kube(api)

    try:
        yield impersonating
    finally:
        for binding, api in made:
            rbac.delete_namespaced_role_binding(binding, PROD)
            rbac.delete_namespaced_role(binding, PROD)
            api.close()


KSERVE = "system:serviceaccount:kserve:kserve-controller-manager"
MODELMESH = "system:serviceaccount:modelmesh-serving:modelmesh-controller"
SELDON = "system:serviceaccount:seldon-mesh:seldon-v2-controller-manager"


@pytest.mark.parametrize("owner_kind", ["InferenceService", "ServingRuntime"])
def test_a_vllm_deployment_made_by_hand_naming_a_real_operators_object_is_rejected(kube: Kube, deployed: Deployed,
                                                                                    as_operator, owner_kind):
    # A real, compliant InferenceService (judged and admitted), or a real ServingRuntime.
    if owner_kind == "InferenceService":
        owner = kube.create(isvc(PROD, "scoring-owner")).object
        row, controllers = "InferenceService (serving.kserve.io)", KSERVE
    else:
        owner = kube.custom.create_namespaced_custom_object("serving.kserve.io", "v1alpha1", PROD, "servingruntimes", {
            "apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
            "metadata": {"name": "vllm-runtime", "namespace": PROD},
            "spec": {"supportedModelFormats": [{"name": "vllm"}], "containers": [VLLM]}})
        row, controllers = "ServingRuntime (serving.kserve.io)", MODELMESH
    # vLLM serving an unreviewed model, no annotation, naming that owner as its controller
    unreviewed = {**VLLM, "args": ["--model", "s3://scratch/unreviewed-llm"]}
    name = f"by-hand-{owner_kind.lower()}"

    def deployment(name: str) -> dict[str, Any]:
        obj = owned("Deployment", name, reference(owner), unreviewed)
        del obj["spec"]["serviceName"]  # a StatefulSet's field
        return obj

    error = kube.rejected(lambda: kube.create(deployment(name)))
    assert error.status == 403, error.body
    message = status_message(error)
    assert requirement_ids(message) == {"evidence.model_reference"}, message
    assert (f"its owner {owner_kind}/{owner['metadata']['name']} exempts only what the `controllers` of the row "
            f"{row} of the serving-kinds table create ({controllers}), not gatekeeper-e2e-admin's requests; if the "
            "operator runs as another service account, name it there") in message
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name=name)] == ["denied"]
    # the same object, made by the controller the row names: exempt once the gate has read
    # the owner (as deploy/'s service account), and nothing to record
    made = as_operator(controllers).create(deployment(f"{name}-op"))
    assert made.object["metadata"]["uid"] and made.warnings == []
    assert deployed.records(namespace=PROD, name=f"{name}-op") == []


def test_a_statefulset_a_real_seldon_server_owns_is_created_a_forged_one_rejected(kube: Kube, deployed: Deployed,
                                                                                  as_operator):
    server = kube.custom.create_namespaced_custom_object("mlops.seldon.io", "v1alpha1", PROD, "servers", {
        "apiVersion": "mlops.seldon.io/v1alpha1", "kind": "Server", "metadata": {"name": "mlserver", "namespace": PROD},
        "spec": {"serverConfig": "mlserver"}})
    mlserver = {"name": "mlserver", "image": "seldonio/mlserver:1.6.1"}
    seldon = as_operator(SELDON)
    seldon.create(owned("StatefulSet", "mlserver", reference(server), mlserver))
    assert deployed.records(namespace=PROD, name="mlserver") == []
    forged = reference(server, name="other-server")
    error = kube.rejected(lambda: seldon.create(owned("StatefulSet", "mlserver-forged", forged, mlserver)))
    message = status_message(error)
    assert requirement_ids(message) == {"evidence.model_reference"}, message
    assert "image seldonio/mlserver:1.6.1" in message
    # made by anyone else, the real Server's reference exempts nothing either
    error = kube.rejected(lambda: kube.create(owned("StatefulSet", "mlserver-by-hand", reference(server), mlserver)))
    assert "not gatekeeper-e2e-admin's requests" in status_message(error)


# --- the environment-label guard, whatever the namespace's environment ---------------------------------


def test_the_label_guard_holds_on_validate_in_a_warn_namespace(deployed: Deployed):
    def change(namespace: str, old: str | None, new: str | None, user: str, groups: tuple[str, ...] = ()) -> Any:
        def ns(value: str | None) -> dict[str, Any]:
            return {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": namespace, "labels": {ENVIRONMENT_LABEL: value} if value else {}}}

        body = review(ns(new), operation="UPDATE", old=ns(old), namespace=namespace, user=user, groups=groups)
        answer = deployed.post("/validate", body, deployed.admission_token)
        assert answer.status_code == 200, answer.text
        return answer.json()["response"]

    # /validate judges a review at the namespace's own label: staging warns, and still the guard denies
    for namespace, old, new in ((STAGE, "staging", "development"), (STAGE, "staging", None),
                                (PROD, "production", "staging")):
        denied = change(namespace, old, new, "dave")
        assert denied["allowed"] is False, (namespace, old, new, denied)
        assert "[namespace.environment_label] @: user dave may not" in denied["status"]["message"]
    assert change(STAGE, "staging", "development", "erin", ("model-gatekeeper:platform-admins",))["allowed"] is True
    environments = {r["environment"] for r in deployed.records(name=STAGE)}
    assert environments == {"staging"}


# --- only the API server writes admission records ---------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_a_review_posted_by_anyone_else_is_refused_and_not_recorded(deployed: Deployed, token: str | None):
    body = review(isvc(PROD, "forged"), uid=str(uuid.uuid4()))
    for path in ("/validate/production", "/validate/staging", "/validate"):
        answer = deployed.post(path, body, token)
        assert answer.status_code == 401, answer.text
        assert "API server" in answer.json()["error"]
    assert deployed.records(name="forged") == []


def test_evaluate_needs_its_token_and_is_recorded_as_an_evaluation(deployed: Deployed):
    body = {"environment": "production", "objects": [isvc(PROD, "evaluated-only")]}
    assert deployed.post("/v1/evaluate", body, None).status_code == 401
    assert deployed.post("/v1/evaluate", body, deployed.admission_token).status_code == 401
    answer = deployed.post("/v1/evaluate", body, deployed.evaluate_token)
    assert answer.status_code == 200, answer.text
    [record] = deployed.records(name="evaluated-only")
    assert record["source"] == "api" and record["request_uid"] is None


# --- what runs where ----------------------------------------------------------------------------


def test_inventory_is_read_with_deploys_rbac_and_needs_the_evaluate_token(kube: Kube, deployed: Deployed):
    # deploy/'s RBAC lets the service account list PolicyReports, and do nothing else with them
    reviews = client.AuthorizationV1Api(kube.api_client)
    user = f"system:serviceaccount:{GATE_NAMESPACE}:{SERVICE_ACCOUNT}"

    def may(verb: str) -> bool:
        return reviews.create_subject_access_review({"spec": {"user": user, "resourceAttributes": {
            "group": "wgpolicyk8s.io", "verb": verb, "resource": "policyreports"}}}).status.allowed

    assert may("list") and not any(may(verb) for verb in ("get", "watch", "create", "update", "delete"))

    # the background auditor (one cycle, as deploy/overlays/auditor runs it) reports on a workload
    kube.create(isvc(PROD, "inventoried"))

    async def audit_once() -> None:
        async with open_gate(Settings(evidence_dir=EVIDENCE)) as gate:
            assert (await Auditor(gate, Cluster(kube.api_client)).cycle()).failure == ""

    asyncio.run(audit_once())

    def inventory(token: str | None) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{deployed.url}/v1/inventory?namespace={PROD}", headers=headers, verify=deployed.verify,
                         timeout=30)

    assert inventory(None).status_code == 401 and inventory(deployed.admission_token).status_code == 401
    answer = inventory(deployed.evaluate_token)
    assert answer.status_code == 200, answer.text
    [row] = [r for r in answer.json() if r["name"] == "inventoried"]
    assert (row["models"], row["environment"], row["compliant"]) == (["credit-scoring@3"], "production", "true")


# --- certificate renewal ---------------------------------------------------------------------


def presented_certificate(port: int, ca: ssl.SSLContext) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, ca.wrap_socket(
            raw, server_hostname="model-gatekeeper.model-gatekeeper-system.svc") as tls:
        return tls.getpeercert(binary_form=True)


def test_a_renewed_certificate_is_served_without_a_restart(kube: Kube, deployed: Deployed):
    tls = deployed.pod.volumes["tls"]
    before = presented_certificate(deployed.pod.port, deployed.verify)
    assert before == x509.load_pem_x509_certificate((tls / "tls.crt").read_bytes()).public_bytes(Encoding.DER)
    pid = deployed.pod.processes["gatekeeper"].pid
    # cert-manager renews under the same CA; the kubelet swaps the Secret's files
    cert, key = deployed.control_plane.issue_cert("model-gatekeeper.model-gatekeeper-system.svc",
                                                   ip_addresses=["127.0.0.1"],
                                                   dns_names=["model-gatekeeper.model-gatekeeper-system.svc"])
    renewed = x509.load_pem_x509_certificate(cert).public_bytes(Encoding.DER)
    for name, data in (("tls.key", key), ("tls.crt", cert)):
        (tls / f".{name}.new").write_bytes(data)
        os.replace(tls / f".{name}.new", tls / name)
    deployed.pod.kubelet_wrote(tls)

    wait_for("the renewed certificate in a new handshake",
             lambda: presented_certificate(deployed.pod.port, deployed.verify) == renewed, timeout=20)
    assert deployed.pod.processes["gatekeeper"].pid == pid and deployed.pod.processes["gatekeeper"].poll() is None
    kube.create(isvc(PROD, "after-renewal"))  # the API server still trusts and reaches it
    assert [r["outcome"] for r in deployed.records(namespace=PROD, name="after-renewal")] == ["admitted"]


# --- last: what the run left behind -------------------------------------------------------------


def test_the_decision_log_verifies_and_nothing_was_written_outside_the_writable_volumes(deployed: Deployed):
    done = deployed.gatekeeper("audit", "verify", "--audit-db", deployed.audit_db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert deployed.pod.changed_outside_writable() == []
    for name, proc in deployed.pod.processes.items():
        assert proc.poll() is None, f"{name} exited: {deployed.pod.log(name)}"
