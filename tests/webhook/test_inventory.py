"""`GET /v1/inventory` on the real `gatekeeper serve` without a working cluster: every
answer is JSON with a reason (the rows themselves, from a real kube-apiserver, are
tests/e2e/test_inventory_e2e.py's)."""

from __future__ import annotations

import httpx
import pytest

from ..conftest import run_cli
from .server import GateProcess

TOKEN = "inventory-test-token"
NO_CLUSTER = {"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""}


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory):
    """A gate outside any cluster, given no kubeconfig."""
    process = GateProcess(tmp_path_factory.mktemp("gate"), env=NO_CLUSTER).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def cut_off(tmp_path_factory):
    """A gate with the evaluate token, whose kubeconfig names an API server nobody serves."""
    workdir = tmp_path_factory.mktemp("gate-cut-off")
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: nobody, user: {}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: nobody}}]\n")
    process = GateProcess(workdir, "--evaluate-token", TOKEN, "--kubeconfig", str(kubeconfig), env=NO_CLUSTER).start()
    yield process
    process.stop()


def get(gate: GateProcess, query: str = "", token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{gate.url}/v1/inventory{query}", headers=headers, timeout=30)


def test_without_a_cluster_it_answers_503_naming_the_kubernetes_api(unconfigured):
    answer = get(unconfigured)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"].startswith("the Kubernetes API is not configured: ")


def test_an_unreachable_api_server_answers_503_naming_it(cut_off):
    answer = get(cut_off, token=TOKEN)
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert error.startswith("the Kubernetes API could not be read: list policyreports: ")
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("token", [None, "not-the-token", f"{TOKEN}x"])
def test_it_needs_the_evaluate_token(cut_off, token):
    answer = get(cut_off, token=token)
    assert answer.status_code == 401
    assert answer.json() == {"error": "a bearer token is required for /v1/inventory"}


def test_a_malformed_namespace_is_refused_with_400(cut_off):
    answer = get(cut_off, "?namespace=Not_A/Namespace", token=TOKEN)
    assert answer.status_code == 400
    assert answer.json() == {"error": "namespace 'Not_A/Namespace' is not a Kubernetes namespace name"}


def test_serve_with_a_missing_kubeconfig_exits_2_with_one_line(tmp_path):
    result = run_cli("serve", "--port", "0", "--kubeconfig", str(tmp_path / "nope"), env=NO_CLUSTER)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"gatekeeper: --kubeconfig {tmp_path / 'nope'}: no such file\n"
