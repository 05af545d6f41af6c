"""One console for the module: a real OPA, the example evidence, a real SQLite decision log
filled by the real gate's recorder, and the inventory as the real auditor would publish
it (its PolicyReports of the same decisions, read back through `auditor.inventory`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Signer
from gatekeeper.auditor.inventory import as_json, inventory
from gatekeeper.auditor.policyreports import policy_report, results_of
from gatekeeper.config import Settings
from gatekeeper.console.app import create_app
from gatekeeper.console.auth import Access, proxy_networks
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext
from tests.clock import FakeClock
from tests.conftest import EVIDENCE, MANIFESTS, POLICIES

TOKEN = "console-test-token-0123456789"
# Where each example manifest runs: (folder/file, environment, who deployed it)
DEPLOYED = [
    ("compliant/credit-scoring-inferenceservice.yaml", "production", "alice@example.com"),
    ("compliant/churn-predictor-seldon-model.yaml", "staging", "bob@example.com"),
    ("noncompliant/fairness-credit-scoring-4.yaml", "production", "bob@example.com"),
    ("noncompliant/pii-credit-scoring-8.yaml", "staging", "carol@example.com"),
]


def objects(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@pytest.fixture(scope="module")
def world(tmp_path_factory, opa_url: str) -> dict:
    """The log and the inventory rows the console reads."""
    folder = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{folder / 'audit.db'}"
    settings = Settings(opa_url=opa_url, evidence_dir=EVIDENCE, policy_dir=POLICIES, audit_db=url)

    async def record() -> list[dict]:
        store = await open_store(url)
        reports = []
        async with store, open_gate(settings, audit=store) as gate:
            for uid, (name, environment, user) in enumerate(DEPLOYED):
                workloads = objects(MANIFESTS / name)
                context = ReviewContext(source="webhook", user=user, request_uid=f"uid-{uid}")
                evaluation = await gate.evaluate([Manifest(o) for o in workloads], environment, context)
                by_name = {w["metadata"]["name"]: w for w in workloads}
                for decision in evaluation.report.results:  # objects serving no model have no decision
                    workload = by_name[decision.object.name]
                    workload["metadata"]["uid"] = f"uid-{uid}-{decision.object.name}"
                    reports.append(policy_report(workload, results_of(decision, datetime.now(timezone.utc)), decision))
            # a checkpoint covers the admissions, not the re-judgement after it
            await store.sign_checkpoint(Signer.generate("console.test/log"), "console.test/log")
            # the auditor re-judging one running workload
            again = objects(MANIFESTS / DEPLOYED[2][0])
            await gate.evaluate([Manifest(o) for o in again], "production", ReviewContext(source="background"))
        return as_json(inventory(reports))

    return {"settings": settings, "rows": asyncio.run(record()), "url": url}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    return FakeClock()


def make_client(world: dict | None, clock: FakeClock, access: Access, *, with_cluster: bool = True,
                settings: Settings | None = None) -> TestClient:
    async def rows(namespace: str | None) -> list[dict]:
        return [r for r in (world or {})["rows"] if namespace is None or r["namespace"] == namespace]

    app = create_app(settings or (world or {})["settings"], access, inventory=rows if with_cluster else None,
                     clock=clock.now, monotonic=clock.monotonic)
    return TestClient(app, base_url="http://console.test")


@pytest.fixture(scope="module")
def client(world: dict, clock: FakeClock) -> Iterator[TestClient]:
    """Signed in with the bearer token on every request."""
    with make_client(world, clock, Access(token=TOKEN)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        test_client.headers["Accept"] = "text/html"
        yield test_client


@pytest.fixture(scope="module")
def proxied(world: dict, clock: FakeClock) -> Iterator[TestClient]:
    """A console behind an authenticating proxy at 10.1.2.3 (no token)."""
    access = Access(trusted_user_header="x-forwarded-user", trusted_proxies=proxy_networks(["10.1.2.3/32"]))
    with make_client(world, clock, access) as test_client:
        yield test_client
