"""A mistyped enforcement word in the matrix fails closed on the gate's own failure paths.

OPA reads anything but exactly `warn` or `dryrun` as `deny`; the gate's answers when OPA
cannot decide (unreachable, over the response budget) take the same word from OPA's
policy facts, so a matrix saying `Deny` can no longer admit where OPA would deny.
"""

import os
import shutil
import signal
import subprocess

import httpx
import pytest

from gatekeeper.opa.server import OpaServer

from ..conftest import POLICIES
from .server import GateProcess, manifest, review

COMPLIANT = "credit-scoring-inferenceservice.yaml"
NONCOMPLIANT = "fairness-credit-scoring-4.yaml"


@pytest.fixture
def mistyped_opa(tmp_path):
    """A real OPA on a copy of the policies whose matrix says `production: {enforcement: Deny}`."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    matrix = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    text = matrix.read_text()
    assert "production: {enforcement: deny}" in text
    matrix.write_text(text.replace("production: {enforcement: deny}", "production: {enforcement: Deny}"))
    opa = OpaServer(policies)
    opa.start()
    yield opa
    opa.stop()


def validate(gate: GateProcess, obj: dict, environment: str = "production") -> dict:
    answer = httpx.post(f"{gate.url}/validate/{environment}", json=review(obj), timeout=15)
    assert answer.status_code == 200
    return answer.json()["response"]


def opa_pid(opa: OpaServer) -> int:
    """The OPA process this test started, found by the address it listens on."""
    found = subprocess.run(["pgrep", "-P", str(os.getpid()), "-f", "--", f"--addr 127.0.0.1:{opa.port}"],
                           capture_output=True, text=True).stdout.split()
    assert len(found) == 1, found
    return int(found[0])


def test_unreachable_opa_denies_when_the_matrix_says_Deny(tmp_path, mistyped_opa):
    gate = GateProcess(tmp_path, "--opa-url", mistyped_opa.url).start()
    try:
        # OPA itself enforces the mistyped word as deny ...
        denied = validate(gate, manifest(NONCOMPLIANT, "noncompliant"))
        assert denied["allowed"] is False and "[fairness." in denied["status"]["message"]
        assert validate(gate, manifest(COMPLIANT))["allowed"] is True
        # ... and so does the gate when OPA cannot be asked (it used to admit with a warning).
        mistyped_opa.stop()
        response = validate(gate, manifest(COMPLIANT))
        assert response["allowed"] is False
        assert "fail closed" in response["status"]["message"]
        assert f"OPA at {mistyped_opa.url}" in response["status"]["message"]
        assert not response.get("warnings")
    finally:
        gate.stop()


def test_over_budget_review_denies_when_the_matrix_says_Deny(tmp_path, mistyped_opa):
    # OPA may take longer than the review's budget: a stalled OPA is then the budget's failure.
    gate = GateProcess(tmp_path, "--opa-url", mistyped_opa.url,
                       env={"GATEKEEPER_RESPONSE_BUDGET": "1", "GATEKEEPER_OPA_TIMEOUT": "10"}).start()
    pid = opa_pid(mistyped_opa)
    try:
        assert validate(gate, manifest(COMPLIANT))["allowed"] is True
        os.kill(pid, signal.SIGSTOP)  # OPA stops answering; its connections stay open
        try:
            response = validate(gate, manifest(COMPLIANT))
        finally:
            os.kill(pid, signal.SIGCONT)
        assert response["allowed"] is False
        assert "did not decide within its 1s budget" in response["status"]["message"]
        assert "denied (fail closed)" in response["status"]["message"]
    finally:
        gate.stop()
