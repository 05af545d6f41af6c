"""A console with nothing to show yet says what to do, and picks up a log made later."""

from __future__ import annotations

import asyncio

from gatekeeper.audit import open_store
from gatekeeper.config import Settings
from gatekeeper.console.auth import Access
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext
from tests.conftest import EVIDENCE, MANIFESTS, POLICIES
from tests.console.conftest import TOKEN, make_client, objects
from tests.console.test_pages import text


def test_no_cluster_and_no_log_say_what_to_do_then_a_new_log_shows(clock, opa_url, tmp_path):
    url = f"sqlite:///{tmp_path / 'later' / 'audit.db'}"
    settings = Settings(opa_url=opa_url, evidence_dir=EVIDENCE, policy_dir=POLICIES, audit_db=url)
    with make_client(None, clock, Access(token=TOKEN), with_cluster=False, settings=settings) as client:
        client.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"})
        overview = text(client.get("/"))
        assert "No cluster configured: start the console with --kubeconfig" in overview
        assert "No decisions yet: the decision log fills as `gatekeeper serve` answers admissions" in overview
        assert "No auditor has run: start `gatekeeper monitor`" in overview
        assert "No decisions yet" in text(client.get("/decisions"))
        assert "No cluster configured" in text(client.get("/workloads"))
        assert not (tmp_path / "later").exists()  # the console made no log of its own

        async def deploy() -> None:
            async with await open_store(url) as store, open_gate(settings, audit=store) as gate:
                denied = objects(MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml")
                await gate.evaluate([Manifest(o) for o in denied], "production", ReviewContext(source="webhook"))

        asyncio.run(deploy())
        overview = text(client.get("/"))
        assert "No decisions yet" not in overview
        assert "credit-scoring@4" in overview.split("Newest denials")[1]


def test_a_cluster_that_cannot_be_read_is_named_and_the_rest_still_shows(clock, opa_url, tmp_path):
    from fastapi.testclient import TestClient

    from gatekeeper.console.app import create_app
    from gatekeeper.console.sources import InventoryUnavailable

    async def down(namespace):
        raise InventoryUnavailable("Kubernetes API at https://10.0.0.1:6443 is unreachable (connection refused)")

    settings = Settings(opa_url=opa_url, evidence_dir=EVIDENCE, policy_dir=POLICIES,
                        audit_db=f"sqlite:///{tmp_path / 'none.db'}")
    app = create_app(settings, Access(token=TOKEN), inventory=down, clock=clock.now, monotonic=clock.monotonic)
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"}) as client:
        for path in ("/", "/workloads", "/models"):
            page = text(client.get(path))
            assert "The cluster could not be read: Kubernetes API at https://10.0.0.1:6443 is unreachable" in page
        assert "credit-scoring@7" in text(client.get("/models"))  # the evidence still lists its versions
