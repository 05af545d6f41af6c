"""A real control plane calling the real gate (issue 6).

Session fixtures, in the order they build on each other:
  control_plane   kine + kube-apiserver on loopback (tests/e2e/cluster.py; binaries from
                  scripts/build-kube.sh, else the tests FAIL with how to build them)
  kube            the `kubernetes` client with the admin identity, CRDs installed
                  (tests/e2e/crds/), namespaces `production` / `staging` labelled with
                  model-gatekeeper.io/environment and `sandbox` unlabelled
  gate            `gatekeeper serve` over HTTPS, serving cert from the cluster's CA, reading
                  the cluster (owner confirmation) with the admin kubeconfig
  deploy_base     `kustomize build deploy/base` (rendered from a private copy of deploy/ and
                  policies/, so a concurrent `sync-policies.sh` elsewhere cannot race it)
  webhook         deploy/'s ValidatingWebhookConfiguration, clientConfig.service replaced by
                  url https://127.0.0.1:PORT/validate/<env> + caBundle, applied and effective
"""

from __future__ import annotations

import base64
import copy
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from gatekeeper.opa.server import free_port

from ..conftest import EVIDENCE, MANIFESTS, ROOT, run_cli
from .cluster import KubeBinariesMissing, KubeControlPlane, default_bin_dir
from .gate import TlsGateProcess
from .kube import Kube, status_message, wait_for, with_namespace

CRDS = Path(__file__).parent / "crds"
ENVIRONMENT_LABEL = "model-gatekeeper.io/environment"
PRODUCTION, STAGING, UNLABELLED = "production", "staging", "sandbox"
GATE_NAMESPACE = "model-gatekeeper-system"
E2E_WEBHOOK_NAME = "model-gatekeeper-e2e"  # not deploy/'s name: the deploy dry run applies that one


def load_manifest(relative: str, index: int = 0) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((MANIFESTS / relative).read_text()) if d]
    return docs[index]


# --- the control plane -----------------------------------------------------------------------


@dataclass
class ApiServerAuth:
    """How the API server authenticates to the as-deployed gate (deploy/apiserver/)."""

    gate_port: int   # chosen before the API server starts: its kubeconfig names host:port
    token: str
    files: Path


@pytest.fixture(scope="session")
def apiserver_auth(tmp_path_factory: pytest.TempPathFactory) -> ApiServerAuth:
    """deploy/apiserver/'s AdmissionConfiguration and webhook kubeconfig, with this machine's
    paths, and the webhook's `name` as the host:port the API server calls the gate at here
    (deploy/ names the Service's DNS name, which needs Service routing)."""
    auth = ApiServerAuth(free_port(), secrets.token_urlsafe(32), tmp_path_factory.mktemp("apiserver-auth"))
    token_file = auth.files / "admission-token"
    token_file.write_text(auth.token)  # no newline, as `base64 -d` writes it
    kubeconfig = yaml.safe_load((ROOT / "deploy" / "apiserver" / "webhook-kubeconfig.yaml").read_text())
    [user] = kubeconfig["users"]
    assert user["name"] == "model-gatekeeper.model-gatekeeper-system.svc"
    user["name"] = f"127.0.0.1:{auth.gate_port}"
    user["user"]["tokenFile"] = str(token_file)
    (auth.files / "webhook-kubeconfig.yaml").write_text(yaml.safe_dump(kubeconfig))
    admission = yaml.safe_load((ROOT / "deploy" / "apiserver" / "admission-configuration.yaml").read_text())
    [plugin] = admission["plugins"]
    plugin["configuration"]["kubeConfigFile"] = str(auth.files / "webhook-kubeconfig.yaml")
    (auth.files / "admission-configuration.yaml").write_text(yaml.safe_dump(admission))
    return auth


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory, apiserver_auth: ApiServerAuth) -> Iterator[KubeControlPlane]:
    try:
        plane = KubeControlPlane(tmp_path_factory.mktemp("kube"), extra_apiserver_args=[
            f"--admission-control-config-file={apiserver_auth.files / 'admission-configuration.yaml'}"])
    except KubeBinariesMissing as exc:
        pytest.fail(f"{exc} (or run `make e2e`, which builds them)", pytrace=False)
    plane.start()
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def api_client(control_plane: KubeControlPlane) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(control_plane.kubeconfig_path))
    try:
        yield api
    finally:
        api.close()


def install_crds(api: client.ApiClient, paths: list[Path]) -> None:
    ext = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    for path in paths:
        crd = next(d for d in yaml.safe_load_all(path.read_text()) if d)
        ext.create_custom_resource_definition(crd)
        name = crd["metadata"]["name"]

        def established(name: str = name) -> bool:
            conditions = ext.read_custom_resource_definition(name).status.conditions or []
            return any(c.type == "Established" and c.status == "True" for c in conditions)

        wait_for(f"CRD {name} Established", established)
        version = crd["spec"]["versions"][0]["name"]
        # Established is not yet "served by every handler": list until the endpoint answers.
        wait_for(f"{name} served", lambda crd=crd, version=version: custom.list_cluster_custom_object(
            crd["spec"]["group"], version, crd["spec"]["names"]["plural"]) is not None)


@pytest.fixture(scope="session")
def kube(api_client: client.ApiClient) -> Kube:
    install_crds(api_client, sorted(CRDS.glob("*.yaml")))
    core = client.CoreV1Api(api_client)
    for name, labels in ((PRODUCTION, {ENVIRONMENT_LABEL: PRODUCTION}), (STAGING, {ENVIRONMENT_LABEL: STAGING}),
                         (UNLABELLED, {})):
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    # the API server creates kube-system itself, a moment after it is ready
    wait_for("namespace kube-system", lambda: core.read_namespace("kube-system"))
    return Kube(api_client)


# --- the gate --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def gate(control_plane: KubeControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsGateProcess]:
    cert, key = control_plane.issue_cert("model-gatekeeper-e2e", ip_addresses=["127.0.0.1"], dns_names=["localhost"])
    # It reads the cluster it admits for (owners it confirms) through the admin kubeconfig;
    # test_as_deployed_e2e runs the gate with deploy/'s service account and RBAC instead.
    process = TlsGateProcess(tmp_path_factory.mktemp("gate"), cert_pem=cert, key_pem=key, ca_pem=control_plane.ca_pem,
                             env={"KUBECONFIG": str(control_plane.kubeconfig_path)})
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def audit(gate: TlsGateProcess):
    """The gate's decision log, newest first, as `gatekeeper audit list --format json` prints it."""

    def records(**match: Any) -> list[dict[str, Any]]:
        result = run_cli("audit", "list", "--audit-db", gate.audit_db, "--format", "json", "--limit", "10000")
        assert result.code == 0, result.stderr
        return [r for r in result.json()
                if all(r["object"].get(k) == v for k, v in match.items())]

    return records


# --- deploy/ ----------------------------------------------------------------------------------


def kustomize_binary() -> str:
    binary = os.environ.get("GATEKEEPER_KUSTOMIZE_BINARY") or str(ROOT / ".tools" / "bin" / "kustomize")
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"kustomize not found at {binary}: run `bash scripts/install-tool.sh kustomize`", pytrace=False)
    return binary


def render(tmp: Path, kustomization: str) -> list[dict[str, Any]]:
    """`kustomize build deploy/<kustomization>` from a private copy of deploy/ and policies/."""
    root = tmp / "repo"
    if not root.exists():
        shutil.copytree(ROOT / "policies", root / "policies")
        shutil.copytree(ROOT / "deploy", root / "deploy", ignore=lambda d, names: (
            ["policies"] if Path(d) == ROOT / "deploy" / "base" else []))
        done = subprocess.run(["bash", str(root / "deploy" / "sync-policies.sh")], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"deploy/sync-policies.sh failed:\n{done.stderr}"
    done = subprocess.run([kustomize_binary(), "build", str(root / "deploy" / kustomization)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kustomize build deploy/{kustomization} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def deploy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploy")


@pytest.fixture(scope="session")
def deploy_base(deploy_dir: Path) -> list[dict[str, Any]]:
    return render(deploy_dir, "base")


def webhook_configuration(deploy_base: list[dict[str, Any]], gate: TlsGateProcess, ca_pem: bytes) -> dict[str, Any]:
    """deploy/'s ValidatingWebhookConfiguration, pointed at the local gate by URL.

    The API server has no Service routing here, so each entry's clientConfig.service
    (name, namespace, path /validate/<env>, port) becomes url https://127.0.0.1:PORT/validate/<env>;
    everything else (rules, selectors, matchConditions, failurePolicy, timeouts) is deploy/'s.
    """
    [vwc] = [d for d in deploy_base if d["kind"] == "ValidatingWebhookConfiguration"]
    vwc = copy.deepcopy(vwc)
    vwc["metadata"]["name"] = E2E_WEBHOOK_NAME
    for hook in vwc["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        assert path.startswith("/validate/"), path
        hook["clientConfig"] = {"url": gate.webhook_url(path.removeprefix("/validate/")),
                                "caBundle": base64.b64encode(ca_pem).decode()}
    return vwc


@pytest.fixture(scope="session")
def webhook(kube: Kube, gate: TlsGateProcess, deploy_base: list[dict[str, Any]],
            control_plane: KubeControlPlane) -> dict[str, Any]:
    vwc = webhook_configuration(deploy_base, gate, control_plane.ca_pem)
    client.AdmissionregistrationV1Api(kube.api_client).create_validating_webhook_configuration(vwc)
    # The API server picks the configuration up from an informer: probe until the gate answers.
    probe = with_namespace(load_manifest("noncompliant/fairness-credit-scoring-4.yaml"), PRODUCTION, "webhook-probe")

    def effective() -> bool:
        try:
            kube.create(probe, dry_run="All")
        except ApiException as exc:
            return exc.status == 403 and "denied the request" in status_message(exc)
        return False

    wait_for("the webhook configuration to take effect", effective, timeout=60)
    return vwc


@pytest.fixture(scope="session")
def cert_manager_crds(api_client: client.ApiClient) -> list[str]:
    """cert-manager's own CRDs (cert-manager.io group), cached by scripts/build-kube.sh from the
    github.com/cert-manager/cert-manager Go module, installed so the overlay's objects can be checked."""
    folder = default_bin_dir() / "cert-manager-crds"
    paths = sorted(folder.glob("cert-manager.io_*.yaml"))
    if not paths:
        pytest.fail(f"no cert-manager CRDs in {folder}: run scripts/build-kube.sh (it caches them)", pytrace=False)
    install_crds(api_client, paths)
    return [p.name for p in paths]


@pytest.fixture(scope="session")
def expected_violations() -> dict[str, set[str]]:
    """What `gatekeeper check` (the CLI front door) says of each non-compliant example, by name."""
    result = run_cli("check", "--format", "json", "--environment", "production", "--evidence", str(EVIDENCE),
                     str(MANIFESTS / "noncompliant"))
    assert result.code == 1, result.stderr
    return {r["object"]["name"]: {v["requirement"] for v in r["violations"]} for r in result.json()["results"]}
