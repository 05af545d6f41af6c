"""The Helm chart's objects against a real kube-apiserver (issue 23).

`helm template` renders charts/model-gatekeeper with a single SQLite replica and a TLS Secret
of our own whose CA the chart puts in the webhook's caBundle (`tls.mode: secret`). The
chart's ServiceAccount, ClusterRole and ClusterRoleBinding are applied for real; the rendered
Deployment's two containers run as processes (tests/e2e/deployed.py, as for deploy/) with
the chart's args, env, volumes and policies ConfigMap, reaching the cluster as the chart's
service account; the chart's ValidatingWebhookConfiguration is registered with its Service
reference replaced by the gate's URL (its caBundle kept). The API server then denies a
non-compliant InferenceService and admits a compliant one through it.

`helm install` and `helm upgrade` then run as a platform engineer runs them, against the same
API server: every object accepted, the chart's own CA in the webhooks' caBundle and kept
across the upgrade. (No kubelet runs here, so those pods never start.)

Kept cheap: the test's own environment stands in for the image (tests/e2e/test_as_deployed_e2e.py
installs the image's wheel), no PostgreSQL, one module-scoped gate.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from ..charts.render import CHART, helm, one, sync_policies, template
from ..conftest import EVIDENCE
from .cluster import KubeControlPlane
from .conftest import ENVIRONMENT_LABEL, GATE_NAMESPACE, ApiServerAuth, load_manifest
from .deployed import Pod, registered_webhooks
from .kube import MODEL_ANNOTATION, Kube, status_message, with_namespace

pytestmark = pytest.mark.e2e

PROD = "helm-production"
WEBHOOK_NAME = "model-gatekeeper-helm-e2e"
# A release name of its own: its service account and ClusterRole are not deploy/'s, which other
# tests of the session apply under deploy/'s names.
E2E_RELEASE = "helm-e2e"
FULLNAME = f"{E2E_RELEASE}-model-gatekeeper"
LOG = "/var/lib/model-gatekeeper/audit.db"  # where the chart puts the SQLite decision log


class Charted:
    def __init__(self, pod: Pod, rendered: list[dict[str, Any]]) -> None:
        self.pod, self.rendered = pod, rendered
        self.url = f"https://127.0.0.1:{pod.port}"

    def records(self, **match: Any) -> list[dict[str, Any]]:
        db = self.pod.volumes["decision-log"] / Path(LOG).name
        done = subprocess.run([str(Path(sys.prefix) / "bin" / "gatekeeper"), "audit", "list", "--audit-db", str(db),
                               "--format", "json", "--limit", "10000"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return [r for r in json.loads(done.stdout) if all(r["object"].get(k) == v for k, v in match.items())]


@pytest.fixture(scope="module")
def charted(kube: Kube, control_plane: KubeControlPlane, apiserver_auth: ApiServerAuth,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Charted]:
    work = tmp_path_factory.mktemp("chart")
    sync_policies()
    ca_bundle = base64.b64encode(control_plane.ca_pem).decode()
    rendered = template(work, {
        "replicas": 1, "podDisruptionBudget": {"enabled": False},
        "decisionLog": {"backend": "sqlite", "sqlite": {"persistence": {"enabled": False}}},
        "tls": {"mode": "secret", "caBundle": ca_bundle},
    }, release=E2E_RELEASE, namespace=GATE_NAMESPACE)
    dynamic = DynamicClient(kube.api_client)
    applied: list[tuple[Any, dict[str, Any]]] = []
    try:  # `helm install --create-namespace`
        kube.core.create_namespace({"metadata": {"name": GATE_NAMESPACE}})
    except ApiException as exc:
        assert exc.status == 409, exc
    # the chart's service account and RBAC, and nothing more for the gate
    for obj in rendered:
        if obj["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding"):
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                                      field_manager="chart-e2e")
            applied.append((resource, obj))
    kube.core.create_namespace({"metadata": {"name": PROD, "labels": {ENVIRONMENT_LABEL: "production"}}})
    service_account = one(rendered, "ServiceAccount")["metadata"]["name"]
    token = kube.core.create_namespaced_service_account_token(
        service_account, GATE_NAMESPACE, {"spec": {"expirationSeconds": 3600}}).status.token
    cert, key = control_plane.issue_cert(f"{FULLNAME}.{GATE_NAMESPACE}.svc", ip_addresses=["127.0.0.1"],
                                         dns_names=[f"{FULLNAME}.{GATE_NAMESPACE}.svc"])
    # the checkpoint key an operator makes once with the gate's own keygen
    log_key = work / "log.key"
    made = subprocess.run([str(Path(sys.prefix) / "bin" / "gatekeeper"), "keygen", "--log", "e2e.example/helm",
                           "--out", str(log_key)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    pod = Pod(rendered, work / "pod", venv=Path(sys.prefix), api_port=control_plane.port, sa_token=token,
              ca_pem=control_plane.ca_pem, evidence=EVIDENCE, port=apiserver_auth.gate_port, secrets={
                  f"{FULLNAME}-tls": {"tls.crt": cert, "tls.key": key},
                  f"{FULLNAME}-log-key": {"key": log_key.read_bytes()},
                  f"{FULLNAME}-tokens": {"admission": apiserver_auth.token.encode(),
                                        "evaluate": secrets.token_urlsafe(24).encode()},
              })
    gate = Charted(pod, rendered)
    pod.start()
    try:
        pod.wait_ready(ssl.create_default_context(cafile=str(control_plane.ca_cert_path)))
        # the chart's webhook configuration, its Service reference replaced by this gate's URL
        hooks = one(rendered, "ValidatingWebhookConfiguration")["webhooks"]
        assert {h["clientConfig"]["caBundle"] for h in hooks} == {ca_bundle}  # the chart's value, used as rendered
        with registered_webhooks(kube, rendered, WEBHOOK_NAME, gate.url, ca_bundle, PROD,
                                 lambda name: gate.records(name=name)):
            yield gate
    finally:
        pod.stop()
        for resource, obj in applied:
            dynamic.delete(resource, name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"))


def isvc(name: str, version: str) -> dict[str, Any]:
    obj = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), PROD, name)
    obj["metadata"]["annotations"][MODEL_ANNOTATION] = f"models:/credit-scoring/{version}"
    obj["spec"]["predictor"]["model"]["storageUri"] = f"s3://models/credit-scoring/{version}"
    return obj


def test_the_charts_webhook_denies_a_noncompliant_and_admits_a_compliant_inferenceservice(kube: Kube, charted):
    error = kube.rejected(lambda: kube.create(isvc("helm-unfair", "4")))
    assert error.status == 403 and "fairness.demographic_parity_ratio" in status_message(error)
    kube.create(isvc("helm-ok", "3"))
    assert kube.get("InferenceService", PROD, "helm-ok") is not None

    [denied] = charted.records(namespace=PROD, name="helm-unfair")
    [admitted] = charted.records(namespace=PROD, name="helm-ok")
    assert (denied["outcome"], admitted["outcome"]) == ("denied", "admitted")
    assert admitted["environment"] == "production" and admitted["source"] == "webhook"


def test_the_charts_service_account_reads_namespaces_and_no_secrets(kube: Kube, charted):
    reviews = client.AuthorizationV1Api(kube.api_client)
    user = f"system:serviceaccount:{GATE_NAMESPACE}:{one(charted.rendered, 'ServiceAccount')['metadata']['name']}"

    def may(verb: str, resource: str, group: str = "") -> bool:
        return reviews.create_subject_access_review({"spec": {"user": user, "resourceAttributes": {
            "verb": verb, "resource": resource, "group": group}}}).status.allowed

    assert may("get", "namespaces") and may("get", "inferenceservices", "serving.kserve.io")
    assert not may("get", "secrets") and not may("create", "namespaces") and not may("list", "inferenceservices",
                                                                                   "serving.kserve.io")


def test_helm_install_and_upgrade_against_the_api_server(kube: Kube, control_plane: KubeControlPlane, tmp_path):
    release, namespace = "mg-e2e", "mg-e2e-system"  # beside the fixture's objects, not over them
    fullname = f"{release}-model-gatekeeper"
    where = ["--kubeconfig", str(control_plane.kubeconfig_path), "--namespace", namespace]
    # no gate pod runs here, so nothing may wait on one: Ignore, and one environment no namespace has
    values: dict[str, Any] = {"webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 1,
                                          "environments": ["development"]}}
    sync_policies()
    installed = helm("install", release, str(CHART), *where, "--create-namespace", values=values, tmp=tmp_path)
    assert installed.returncode == 0, installed.stderr
    admissions = client.AdmissionregistrationV1Api(kube.api_client)
    try:
        assert "kubectl label namespace lending model-gatekeeper.io/environment=development" in installed.stdout
        secret = kube.core.read_namespaced_secret(f"{fullname}-tls", namespace).data
        hooks = admissions.read_validating_webhook_configuration(fullname).webhooks
        assert [h.name for h in hooks] == ["development.validate.model-gatekeeper.io",
                                           "environment-label.validate.model-gatekeeper.io"]
        assert {h.client_config.ca_bundle for h in hooks} == {secret["ca.crt"]}

        upgraded = helm("upgrade", release, str(CHART), *where, values={**values, "replicas": 2,
                                                                         "podDisruptionBudget": {"minAvailable": 1}},
                        tmp=tmp_path)
        assert upgraded.returncode == 0, upgraded.stderr
        assert kube.core.read_namespaced_secret(f"{fullname}-tls", namespace).data == secret  # the same CA
        apps = client.AppsV1Api(kube.api_client)
        assert apps.read_namespaced_deployment(fullname, namespace).spec.replicas == 2
        refused = helm("upgrade", release, str(CHART), *where, values={"webhook": {"failurePolicy": "Never"}},
                       tmp=tmp_path)
        assert refused.returncode != 0 and "/webhook/failurePolicy" in refused.stderr
    finally:
        done = helm("uninstall", release, *where, tmp=tmp_path)
        assert done.returncode == 0, done.stderr
