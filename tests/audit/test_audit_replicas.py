"""Two real gate processes on one PostgreSQL log, one killed with SIGKILL under load: every
answered decision is in the log, one tree, one checkpoint sequence, and every checkpoint
matches the tree (README "The decision log")."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import httpx

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Signer

from ..conftest import run_cli
from ..webhook.server import GateProcess, manifest, review

ORIGIN = "example.com/model-gatekeeper/replicas"


def _load(gate: GateProcess, prefix: str, answered: list[str], stop: threading.Event) -> None:
    body = manifest("credit-scoring-inferenceservice.yaml")
    with httpx.Client(timeout=10) as client:
        for i in range(10_000):
            if stop.is_set():
                return
            uid = f"{prefix}-{i}"
            try:
                answer = client.post(f"{gate.url}/validate/production", json=review(body, uid=uid))
            except httpx.HTTPError:
                continue  # the killed replica: unanswered, so nothing is owed
            if answer.status_code == 200:
                answered.append(uid)


def test_a_replica_killed_under_load_loses_no_answered_decision(pg_url, tmp_path):
    signer = Signer.generate(ORIGIN)
    key = tmp_path / "log.key"
    key.write_text(f"{signer}\n")
    args = ("--audit-db", pg_url, "--log-key", str(key), "--checkpoint-interval", "0.2")
    gates = [GateProcess(tmp_path / f"gate-{n}", *args) for n in range(2)]
    for gate in gates:
        gate.workdir.mkdir()
        gate.log = gate.workdir / "gate.log"
        gate.start()
    answered: list[list[str]] = [[], []]
    stop = threading.Event()
    workers = [threading.Thread(target=_load, args=(gates[n], f"r{n}", answered[n], stop)) for n in range(2)]
    try:
        for worker in workers:
            worker.start()
        while len(answered[0]) < 40 or len(answered[1]) < 40:
            stop.wait(0.05)
        os.killpg(gates[0].process.pid, signal.SIGKILL)  # the gate and its OPA, mid-stream
        gates[0].process.wait()
        while len(answered[1]) < 80:
            stop.wait(0.05)
    finally:
        stop.set()
        for worker in workers:
            worker.join()
        gates[1].stop()  # signs a last checkpoint on its way out
    verified = run_cli("audit", "verify", "--audit-db", pg_url, "--log-key", str(signer.verifier))
    assert verified.code == 0, verified.stdout + verified.stderr
    listed = run_cli("audit", "list", "--audit-db", pg_url, "--format", "json", "--limit", "100000")
    recorded = {r["request_uid"] for r in listed.json()}
    missing = [uid for uid in answered[0] + answered[1] if uid not in recorded]
    assert missing == []
    count = int(verified.stdout.split(": ")[1].split()[0])
    assert count >= len(answered[0]) + len(answered[1])

    # the surviving replica's shutdown checkpoint covers every record, the killed one's too
    async def newest() -> int:
        async with await open_store(pg_url, create=False) as store:
            return (await store.checkpoint()).size

    assert asyncio.run(newest()) == count
