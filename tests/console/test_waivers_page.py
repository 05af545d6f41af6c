"""A model version's waiver on the console: who approved it, in which role, what it covers,
and its countdown on the overview (a real waiver from `gatekeeper waiver create`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gatekeeper.config import Settings
from gatekeeper.console.auth import Access
from gatekeeper.opa.server import OpaServer
from tests.clock import FakeClock
from tests.conftest import EVIDENCE, require_tool, run_cli
from tests.console.conftest import TOKEN, make_client
from tests.console.test_pages import text
from tests.mlflow.trust import make_trust
from tests.test_waivers import FAIRNESS, attach

APPROVER = "cora@example.com"


@pytest.fixture(scope="module")
def waived(tmp_path_factory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("waived")
    trust = make_trust(folder)
    evidence = folder / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    out = folder / "w.dsse.json"
    created = run_cli("waiver", "create", "--key", str(trust.key_files[APPROVER]), "--policy-dir", str(trust.policy_dir),
                      "--evidence", str(evidence), "--model", "credit-scoring", "--versions", "4",
                      "--requirement", FAIRNESS, "--reason", "mitigation ships in v5", "--expires", "10d",
                      "--out", str(out))
    assert created.code == 0, created.stderr
    attach(evidence, "4", "fairness.dsse.json", out.read_bytes())
    server = OpaServer(trust.policy_dir, binary=require_tool("opa"))
    server.start()
    settings = Settings(opa_url=server.url, evidence_dir=evidence, policy_dir=trust.policy_dir,
                        audit_db=f"sqlite:///{folder / 'no-log' / 'audit.db'}")
    try:
        with make_client(None, FakeClock(), Access(token=TOKEN), with_cluster=False, settings=settings) as client:
            client.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"})
            yield client
    finally:
        server.stop()


def test_the_version_page_lists_the_waiver_with_approver_role_and_expiry(waived):
    page = text(waived.get("/models/credit-scoring/4"))
    listed = page.split("Sign-offs and waivers")[1].split("Evidence")[0]
    row = listed.split("waiver")[1]
    assert APPROVER in row and "compliance" in row and FAIRNESS in row and "mitigation ships in v5" in row
    assert "in 10 days" in row and "valid" in row
    assert "None: the policy admits this version in production." in page
    assert f"{FAIRNESS}" in page.split("Waived")[1]


def test_the_overview_counts_down_to_the_waivers_expiry(waived):
    listed = text(waived.get("/")).split("expiring in the next 30 days")[1].split("Newest denials")[0]
    assert "credit-scoring@4" in listed and f"waiver ({FAIRNESS})" in listed and "in 10 days" in listed
