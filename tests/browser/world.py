"""What the console's browser scenarios look at, made by the real components: a kube-apiserver
(+ kine) with workloads in a production and a staging namespace, the real auditor's
PolicyReports of them, a real OPA, and a decision log the real gate recorded into (its
admissions, as the webhook records them, and the auditor's background re-judgements).

Time is a FakeClock: the example sign-offs of credit-scoring 3 expire 10 days after it,
so the pages show that countdown (tests/e2e/test_auditor_e2e.py dates the evidence the same way).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from kubernetes import client

from gatekeeper.audit import open_store
from gatekeeper.auditor.client import Cluster
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.cli.serve import inventory_reader
from gatekeeper.config import Settings
from gatekeeper.console.app import create_app
from gatekeeper.console.auth import Access
from gatekeeper.console.queries import InventoryUnavailable
from gatekeeper.opa.server import free_port
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext

from ..clock import FakeClock
from ..e2e.conftest import CRDS, ENVIRONMENT_LABEL, install_crds, load_manifest
from ..e2e.kube import Kube, with_namespace
from ..e2e.test_auditor_e2e import SCANNED_AT, SIGNOFFS_EXPIRE, evidence_copy

TOKEN = "browser-console-token-0123456789"
NOW = SIGNOFFS_EXPIRE - timedelta(days=10)
ADMITTED_AT = NOW - timedelta(days=1)  # the admissions; the auditor's cycle runs at NOW
# namespace -> environment label
NAMESPACES = {"lending": "production", "lending-staging": "staging"}
# (example manifest, namespace, name, who deployed it)
WORKLOADS = [
    ("compliant/credit-scoring-inferenceservice.yaml", "lending", "scoring", "alice@example.com"),
    ("noncompliant/fairness-credit-scoring-4.yaml", "lending", "scoring-v4", "bob@example.com"),
    ("compliant/churn-predictor-deployment.yaml", "lending-staging", "churn", "carol@example.com"),
    ("noncompliant/pii-credit-scoring-8.yaml", "lending-staging", "scoring-v8", "carol@example.com"),
]


def evidence_dated(root: Path) -> Path:
    """The example evidence with every PII scan and fairness evaluation redone at SCANNED_AT
    (fresh at NOW, as the auditor story dates credit-scoring 3's), so each non-compliant
    example shows its own violation, not the age of evidence made in another year. The
    policies' sign-offs do not review those two sections (policies_copy)."""
    evidence_copy(root)
    for path in root.glob("*/*/evidence.yaml"):
        bundle = yaml.safe_load(path.read_text())
        if bundle.get("pii_scan"):
            bundle["pii_scan"]["scanned_at"] = SCANNED_AT
        for results in (bundle.get("fairness") or {}).values():
            results["evaluated_at"] = SCANNED_AT
        path.write_text(yaml.safe_dump(bundle))
    return root


def populate(kube: Kube) -> None:
    for namespace, environment in NAMESPACES.items():
        kube.core.create_namespace({"metadata": {"name": namespace, "labels": {ENVIRONMENT_LABEL: environment}}})
    for manifest, namespace, name, _ in WORKLOADS:
        kube.create(with_namespace(load_manifest(manifest), namespace, name))


async def record_and_audit(settings: Settings, kube: Kube, clock: FakeClock, audit_db: str) -> None:
    """Each workload's admission as the webhook records it (a day before NOW), then one
    auditor cycle at NOW: its PolicyReports in the cluster, its re-judgements in the log."""
    clock.wall = ADMITTED_AT
    await record_admissions(settings, clock, audit_db)
    clock.wall = NOW
    store = await open_store(audit_db)
    # the auditor records only what changes, so its gate records nothing itself
    async with store, open_gate(settings, clock=clock.now) as gate:
        result = await Auditor(gate, Cluster(kube.api_client), audit=store).cycle()
    assert result.failure == "", result.failure
    assert len(result.judged) == len(WORKLOADS), result.judged


async def record_admissions(settings: Settings, clock: FakeClock, audit_db: str) -> None:
    """Each workload's admission, recorded as the webhook records it (source webhook, the user)."""
    store = await open_store(audit_db)
    async with store, open_gate(settings, audit=store, clock=clock.now) as gate:
        for uid, (manifest, namespace, name, user) in enumerate(WORKLOADS):
            await gate.evaluate([Manifest(with_namespace(load_manifest(manifest), namespace, name))],
                                NAMESPACES[namespace], ReviewContext(source="webhook", user=user,
                                                                     request_uid=f"uid-{uid}"))


@dataclass
class Console:
    """The console application under uvicorn on a loopback port, in a thread of this process
    (so it runs on the test's clock), reading the cluster as `gatekeeper console` does
    (cli/console.py: the same inventory reader, the same application)."""

    settings: Settings
    api: client.ApiClient | None
    clock: FakeClock
    port: int = field(default_factory=free_port)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Console:
        app = create_app(self.settings, Access(token=TOKEN), inventory=inventory_reader(self.api, InventoryUnavailable),
                         clock=self.clock.now, monotonic=self.clock.monotonic)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console did not start (see the log above)")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)


def cluster_kube(workdir: Path) -> tuple[Any, Kube]:
    """A started control plane and the admin client, CRDs installed."""
    from kubernetes import config

    from ..e2e.cluster import KubeControlPlane

    plane = KubeControlPlane(workdir)
    plane.start()
    api = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
    install_crds(api, sorted(CRDS.glob("*.yaml")))
    return plane, Kube(api)


def run(coroutine: Any) -> Any:
    """asyncio.run in a thread of its own: Playwright's sync API keeps an event loop running
    in the test's thread once a browser is open."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
