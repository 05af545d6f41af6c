"""Duplicate keys through the webhook (issue 26): a second `fairness:` block appended to
credit-scoring 4's evidence used to be read last-wins and admitted. Real gate, real OPA."""

from __future__ import annotations

import json
import shutil

import httpx
import pytest

from ..conftest import EVIDENCE, run_cli
from .server import GateProcess, manifest, review

SECOND_BLOCK = """fairness:
  sex:
    demographic_parity_ratio: 0.95
    demographic_parity_difference: 0.02
    equalized_odds_difference: 0.03
    min_group_size: 1200
"""


@pytest.fixture(scope="module")
def strict_gate(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("strict-gate")
    evidence = workdir / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    path = evidence / "credit-scoring" / "4" / "evidence.yaml"
    path.write_text(path.read_text() + SECOND_BLOCK)
    process = GateProcess(workdir, "--evidence", str(evidence)).start()
    process.bundle = path
    yield process
    process.stop()


def test_a_duplicate_fairness_block_is_denied_and_recorded_as_denied(strict_gate):
    body = review(manifest("fairness-credit-scoring-4.yaml", "noncompliant"), uid="uid-duplicate")
    answer = httpx.post(f"{strict_gate.url}/validate/production", json=body, timeout=10)
    assert answer.status_code == 200
    response = answer.json()["response"]
    assert response["allowed"] is False and response["status"]["code"] == 403
    header, line = response["status"]["message"].splitlines()
    assert header.startswith("model-gatekeeper denied InferenceService")
    assert line.startswith("[evidence.unreadable] credit-scoring@4: credit-scoring/4/evidence.yaml: duplicate key 'fairness'")
    assert str(strict_gate.bundle) not in line  # the evidence folder's path, never the server's
    assert "a key may appear only once in a mapping" in line

    listed = run_cli("audit", "list", "--audit-db", strict_gate.audit_db, "--format", "json", "--limit", "100")
    [record] = [r for r in json.loads(listed.stdout) if r["request_uid"] == "uid-duplicate"]
    assert record["outcome"] == "denied"
    assert [v["requirement"] for v in record["violations"]] == ["evidence.unreadable"]
