"""The serving gate signs checkpoints of its decision log and serves them and proofs
(GET /v1/log/checkpoint, GET /v1/log/proof/{id}) behind the /v1/evaluate token."""

from __future__ import annotations

import time

import httpx

from ..conftest import run_cli
from .server import GateProcess, manifest, review
from .test_decision_log import post, records

TOKEN = "log-reader-token"
ORIGIN = "example.com/model-gatekeeper/webhook-test"


def _get(gate: GateProcess, path: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{gate.url}{path}", headers=headers, timeout=10)


def _checkpoint_of_size(gate: GateProcess, size: int, within: float = 20.0) -> str:
    # The gate signs on its own clock (--checkpoint-interval 0.2): wait for its next one.
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = _get(gate, "/v1/log/checkpoint")
        if got.status_code == 200 and got.text.split("\n")[1] == str(size):
            return got.text
        time.sleep(0.1)
    raise AssertionError(f"no checkpoint of size {size} within {within}s: {got.status_code} {got.text}")


def test_checkpoints_and_proofs_over_http(tmp_path):
    key = tmp_path / "log.key"
    made = run_cli("keygen", "--log", ORIGIN, "--out", str(key))
    assert made.code == 0, made.stderr
    vkey = made.stdout.strip()
    gate = GateProcess(tmp_path, "--log-key", str(key), "--checkpoint-interval", "0.2",
                       env={"GATEKEEPER_EVALUATE_TOKEN": TOKEN}).start()
    try:
        assert _get(gate, "/v1/log/checkpoint").status_code == 404  # nothing decided, nothing signed
        for uid in ("first", "second"):
            assert post(gate, review(manifest("credit-scoring-inferenceservice.yaml"), uid=uid)).status_code == 200
        note = _checkpoint_of_size(gate, 2)
        assert note.startswith(f"{ORIGIN}\n2\n")
        assert _get(gate, "/v1/log/checkpoint", token=None).status_code == 401
        decision = records(gate, request_uid="second")[0]["decision_id"]
        proof = _get(gate, f"/v1/log/proof/{decision}")
        assert proof.status_code == 200
        assert _get(gate, f"/v1/log/proof/{decision}", token="wrong").status_code == 401
        missing = _get(gate, "/v1/log/proof/no-such-decision")
        assert (missing.status_code, missing.json()) == (404, {"error": "no decision no-such-decision in the log"})
        (tmp_path / "proof.json").write_text(proof.text)
        checked = run_cli("audit", "verify-proof", str(tmp_path / "proof.json"), "--log-key", vkey)
        assert checked.code == 0, checked.stdout + checked.stderr
        assert checked.stdout.startswith(f"proof valid: decision {decision} is record 2 of {ORIGIN}")
        post(gate, review(manifest("credit-scoring-inferenceservice.yaml"), uid="last"))
    finally:
        gate.stop()
    # Shutdown signs what was answered last.
    verified = run_cli("audit", "verify", "--audit-db", gate.audit_db, "--log-key", vkey)
    assert (verified.code, verified.stdout) == (0, "audit log intact: 3 records\n")
    proved = run_cli("audit", "prove", records(gate, request_uid="last")[0]["decision_id"], "--audit-db", gate.audit_db)
    assert proved.code == 0 and '"tree_size": 3' in proved.stdout


def test_a_postgres_log_needs_a_key(tmp_path):
    refused = run_cli("serve", "--audit-db", "postgresql://nobody@127.0.0.1:1/audit")
    assert refused.code == 2
    assert refused.stderr == ("gatekeeper: --log-key (GATEKEEPER_LOG_KEY) is required with a PostgreSQL decision "
                              "log: every replica signs its checkpoints with the same key\n")
