"""`GET /v1/inventory` on `gatekeeper serve`, against the real kube-apiserver (issue 15).

The background auditor (one cycle: a real OPA, the injected clock and evidence of
tests/e2e/test_auditor_e2e.py) writes the PolicyReports of two workloads, a compliant one
in production and an unfair one in staging. The gate, started as `gatekeeper serve` wires
it (the cluster through KUBECONFIG, `--evaluate-token`), then lists them with their
model@version and compliance, the same rows as `gatekeeper inventory --format json`;
refuses callers without the token; and, while the API server cannot be reached, answers
503 naming the Kubernetes API, catching up once it can.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gatekeeper.auditor.client import Cluster
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.config import Settings
from gatekeeper.opa.server import free_port
from gatekeeper.pipeline.assemble import open_gate

from ..clock import FakeClock
from ..conftest import run_cli
from ..webhook.server import GateProcess
from .cluster import KubeControlPlane
from .conftest import ENVIRONMENT_LABEL, load_manifest
from .kube import Kube, with_namespace
from .test_auditor_e2e import SIGNOFFS_EXPIRE, START, evidence_copy, policies_copy, stamp

pytestmark = pytest.mark.e2e

PRODUCTION, STAGING = "inventoried", "inventoried-staging"
COMPLIANT, UNFAIR = "scoring-inventoried", "scoring-unfair-inventoried"
TOKEN = "inventory-e2e-token"


class Relay:
    """A TCP relay between the gate and the API server that the test can cut: the API
    server unreachable for this gate only (the session's control plane serves the others)."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port = target_port, free_port()
        self._open: list[socket.socket] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while listener.fileno() != -1:
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._open += [downstream, upstream]
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        """Refuse new connections and drop the open ones (the gate's kept-alive one too)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for end in self._open:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
        self._open.clear()


@pytest.fixture(scope="module")
def audited(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two workloads, judged by one auditor cycle: their PolicyReports are written."""
    for namespace, environment in ((PRODUCTION, "production"), (STAGING, "staging")):
        kube.core.create_namespace({"metadata": {"name": namespace, "labels": {ENVIRONMENT_LABEL: environment}}})
    kube.create(with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), PRODUCTION, COMPLIANT))
    # staging: admitted with warnings where the session's webhook is installed, unfair still
    kube.create(with_namespace(load_manifest("noncompliant/fairness-credit-scoring-4.yaml"), STAGING, UNFAIR))
    folder = tmp_path_factory.mktemp("inventory")
    settings = Settings(evidence_dir=evidence_copy(folder / "evidence"), policy_dir=policies_copy(folder / "policies"),
                        evidence_cache_ttl=0.0)

    async def cycle() -> None:
        async with open_gate(settings, clock=FakeClock(START).now) as gate:
            result = await Auditor(gate, Cluster(kube.api_client)).cycle()
        assert result.failure == "", result.failure
        assert {f"{PRODUCTION}/InferenceService/{COMPLIANT}", f"{STAGING}/InferenceService/{UNFAIR}"} <= set(result.judged)

    asyncio.run(cycle())


@pytest.fixture(scope="module")
def relay(control_plane: KubeControlPlane) -> Iterator[Relay]:
    relay = Relay(control_plane.port)
    relay.start()
    yield relay
    relay.cut()


@pytest.fixture(scope="module")
def served(control_plane: KubeControlPlane, relay: Relay, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateProcess]:
    """`gatekeeper serve`, reaching the cluster through KUBECONFIG (the admin kubeconfig,
    its server the relay), with the evaluate token."""
    workdir = tmp_path_factory.mktemp("inventory-gate")
    kubeconfig = yaml.safe_load(control_plane.kubeconfig_path.read_text())
    [cluster] = kubeconfig["clusters"]
    cluster["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    path = workdir / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    process = GateProcess(workdir, "--evaluate-token", TOKEN,
                          env={"KUBECONFIG": str(path), "KUBERNETES_SERVICE_HOST": ""}).start()
    yield process
    process.stop()


def get(gate: GateProcess, query: str = "", token: str | None = TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{gate.url}/v1/inventory{query}", headers=headers, timeout=60)


def ours(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in rows if row["namespace"] in (PRODUCTION, STAGING)}


def test_the_gate_lists_each_audited_workload_with_its_model_and_compliance(audited, served):
    answer = get(served)
    assert answer.status_code == 200, answer.text
    rows = ours(answer.json())
    assert rows[COMPLIANT] == {
        "namespace": PRODUCTION, "kind": "InferenceService", "name": COMPLIANT, "environment": "production",
        "models": ["credit-scoring@3"], "risk_class": "high", "compliant": "true", "violations": [],
        "earliest_expiry": stamp(SIGNOFFS_EXPIRE), "error": "",
    }
    unfair = rows[UNFAIR]
    assert (unfair["environment"], unfair["models"], unfair["compliant"]) == ("staging", ["credit-scoring@4"], "false")
    assert "fairness.demographic_parity_ratio" in unfair["violations"] and unfair["error"] == ""


def test_the_same_rows_as_gatekeeper_inventory(audited, served, control_plane: KubeControlPlane):
    for query, args in (("", ()), (f"?namespace={STAGING}", ("--namespace", STAGING))):
        listed = run_cli("inventory", "--kubeconfig", str(control_plane.kubeconfig_path), "--format", "json", *args)
        assert listed.code == 0, listed.stderr
        answer = get(served, query)
        assert answer.status_code == 200, answer.text
        assert answer.json() == listed.json()
    assert [row["name"] for row in answer.json()] == [UNFAIR]


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_without_the_evaluate_token_it_is_refused(served, token):
    answer = get(served, token=token)
    assert answer.status_code == 401
    assert answer.json() == {"error": "a bearer token is required for /v1/inventory"}


def test_an_unreachable_api_server_answers_503_naming_it_and_the_gate_catches_up(audited, served, relay):
    relay.cut()
    try:
        down = get(served)
        assert down.status_code == 503
        assert down.json()["error"].startswith("the Kubernetes API could not be read: list policyreports: ")
        assert served.process is not None and served.process.poll() is None
    finally:
        relay.start()
    back = get(served)
    assert back.status_code == 200, back.text
    assert ours(back.json())[COMPLIANT]["compliant"] == "true"


def test_the_evidence_pack_says_where_the_version_runs(audited, control_plane: KubeControlPlane):
    """`gatekeeper report model --kubeconfig`: the workloads serving the version, as the
    auditor's reports say (credit-scoring@4's unfair workload is another version's)."""
    result = run_cli("report", "model", "credit-scoring@3", "--format", "json",
                     "--kubeconfig", str(control_plane.kubeconfig_path), "--at", "2026-12-01T00:00:00Z")
    assert result.code == 0, result.stderr
    rows = {(r["namespace"], r["name"]): r for r in json.loads(result.stdout)["placements"]}
    assert rows[(PRODUCTION, COMPLIANT)]["compliant"] == "true"
    assert rows[(PRODUCTION, COMPLIANT)]["environment"] == "production"
    assert (STAGING, UNFAIR) not in rows
