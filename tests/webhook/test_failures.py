"""Fail closed, never 5xx: OPA killed, audit store unwritable, decision log tampered with."""

import os
import signal
import sqlite3
import subprocess
import time

import httpx
import pytest

from ..conftest import run_cli
from .server import GateProcess, manifest, review

COMPLIANT = "credit-scoring-inferenceservice.yaml"


@pytest.fixture
def own_gate(tmp_path):
    process = GateProcess(tmp_path).start()
    yield process
    process.stop()


def wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def ready(gate):
    return httpx.get(f"{gate.url}/readyz", timeout=5).status_code == 200


def test_opa_unresponsive_denies_naming_opa_then_killed_opa_is_restarted(own_gate):
    body = review(manifest(COMPLIANT))
    assert httpx.post(f"{own_gate.url}/validate/production", json=body).json()["response"]["allowed"] is True
    [opa] = own_gate.opa_pids()
    # Frozen, not dead: the process is alive, so nothing restarts it while we ask.
    os.kill(opa, signal.SIGSTOP)
    try:
        started = time.monotonic()
        answer = httpx.post(f"{own_gate.url}/validate/production", json=body, timeout=10)
        assert answer.status_code == 200 and time.monotonic() - started < 5.0
        response = answer.json()["response"]
        assert response["allowed"] is False
        assert "OPA" in response["status"]["message"] and "fail closed" in response["status"]["message"]
        staging = httpx.post(f"{own_gate.url}/validate/staging", json=body, timeout=10).json()["response"]
        assert staging["allowed"] is True
    finally:
        os.kill(opa, signal.SIGKILL)  # a killed process needs no SIGCONT
    # The gate restarts the OPA it started: admissions and readiness come back, on a new process.
    assert wait_for(lambda: httpx.post(f"{own_gate.url}/validate/production", json=body).json()["response"]["allowed"])
    # Readiness is polled (each second, then the policy revision is compared), so it may
    # trail the first admission the new OPA answers; kubelet polls it the same way.
    assert wait_for(lambda: ready(own_gate))
    [restarted] = own_gate.opa_pids()
    assert restarted != opa


def test_external_opa_down_denies_and_readyz_reports_it(tmp_path):
    from gatekeeper.opa.server import OpaServer

    from ..conftest import POLICIES

    opa = OpaServer(POLICIES)
    opa.start()
    gate = GateProcess(tmp_path, "--opa-url", opa.url).start()
    try:
        body = review(manifest(COMPLIANT))
        port = opa.port
        opa.stop()
        response = httpx.post(f"{gate.url}/validate/production", json=body, timeout=10).json()["response"]
        assert response["allowed"] is False
        assert f"OPA at http://127.0.0.1:{port}" in response["status"]["message"]
        assert wait_for(lambda: not ready(gate))
        assert "opa" in httpx.get(f"{gate.url}/readyz").json()["failing"]
        opa.start(port=port)
        assert wait_for(lambda: ready(gate))
        assert httpx.post(f"{gate.url}/validate/production", json=body).json()["response"]["allowed"] is True
    finally:
        gate.stop()
        opa.stop()


def test_unwritable_audit_store_denies_and_says_so(own_gate):
    body = review(manifest(COMPLIANT))
    assert httpx.post(f"{own_gate.url}/validate/production", json=body).json()["response"]["allowed"] is True
    # Not the -shm file: SQLite maps it into memory, and a failed write there is a SIGBUS, not an error.
    files = [own_gate.workdir / name for name in ("audit.db", "audit.db-wal") if (own_gate.workdir / name).exists()]
    made = subprocess.run(["chattr", "+i", *map(str, files)], capture_output=True, text=True)
    assert made.returncode == 0, f"chattr +i failed: {made.stderr}"
    try:
        response = httpx.post(f"{own_gate.url}/validate/production", json=body, timeout=10).json()["response"]
        assert response["allowed"] is False
        assert "could not be recorded" in response["status"]["message"] and "audit store" in response["status"]["message"]
        assert wait_for(lambda: not ready(own_gate))
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)
    assert wait_for(lambda: ready(own_gate))
    assert httpx.post(f"{own_gate.url}/validate/production", json=body).json()["response"]["allowed"] is True


def test_tampered_decision_log_is_caught_by_audit_verify(own_gate):
    for i in range(5):
        httpx.post(f"{own_gate.url}/validate/production", json=review(manifest(COMPLIANT), uid=f"t-{i}"))
    own_gate.stop()  # stop writes; verify what is on disk
    intact = run_cli("audit", "verify", "--audit-db", own_gate.audit_db)
    assert intact.code == 0 and "intact" in intact.stdout
    db = sqlite3.connect(own_gate.workdir / "audit.db")
    changed = db.execute("""update audit_records set body = replace(body, '"allowed":true', '"allowed":false')
                            where seq = 3""").rowcount
    db.commit()
    db.close()
    tampered = run_cli("audit", "verify", "--audit-db", own_gate.audit_db)
    assert changed == 1 and tampered.code == 1
    assert "3" in tampered.stdout + tampered.stderr
