"""Where the CLI's values come from: a flag, else its GATEKEEPER_* setting, else a default;
and default folders start from where the user stands, with a note naming them on stderr."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gatekeeper.opa.server import free_port

from .conftest import EVIDENCE, MANIFESTS, POLICIES, ROOT, run_cli

UNFAIR = MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml"  # DP ratio 0.62, high risk
COMPLIANT = MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"
MATRIX = Path("gatekeeper") / "matrix" / "requirements.yaml"


def loosen(folder: Path) -> Path:
    """High-risk models in FOLDER's matrix need a DP ratio of 0.50 only (credit-scoring@4 has 0.62)."""
    path = folder / MATRIX
    text = path.read_text()
    assert "      demographic_parity_ratio_min: 0.80\n" in text
    path.write_text(text.replace("      demographic_parity_ratio_min: 0.80\n", "      demographic_parity_ratio_min: 0.50\n", 1))
    return folder


def lenient_policies(into: Path) -> Path:
    """A copy of the project's policies, loosened."""
    shutil.copytree(POLICIES, into / "policies")
    return loosen(into / "policies")


# --- default folders -----------------------------------------------------------------------


def test_the_policies_where_the_user_stands_beat_the_installs(tmp_path):
    team = tmp_path / "team-checkout"
    team.mkdir()
    lenient_policies(team)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    ours = run_cli("check", "--evidence", str(EVIDENCE), "--format", "json", str(UNFAIR), cwd=team)
    assert ours.code == 0, ours.stderr
    assert ours.json()["results"][0]["allowed"] is True  # stdout stays machine-readable
    assert ours.stderr == "gatekeeper: policies from ./policies\n"

    installs = run_cli("check", "--evidence", str(EVIDENCE), "--format", "json", str(UNFAIR), cwd=elsewhere)
    assert installs.code == 1, installs.stderr
    assert {v["requirement"] for v in installs.json()["results"][0]["violations"]} == {"fairness.demographic_parity_ratio"}
    assert installs.stderr == f"gatekeeper: policies from {POLICIES}\n"


def test_a_policy_flag_or_setting_is_read_without_a_note(tmp_path):
    lenient = lenient_policies(tmp_path)
    by_setting = run_cli("check", "--evidence", str(EVIDENCE), str(UNFAIR), env={"GATEKEEPER_POLICY_DIR": str(lenient)})
    assert by_setting.code == 0 and by_setting.stderr == ""
    flag_wins = run_cli("check", "--evidence", str(EVIDENCE), "--policy-dir", str(POLICIES), str(UNFAIR),
                        env={"GATEKEEPER_POLICY_DIR": str(lenient)})
    assert flag_wins.code == 1 and flag_wins.stderr == ""


def test_the_evidence_where_the_user_stands_beats_the_installs(tmp_path, opa_url):
    shutil.copytree(EVIDENCE, tmp_path / "examples" / "evidence")
    shutil.rmtree(tmp_path / "examples" / "evidence" / "credit-scoring" / "3")

    ours = run_cli("check", "--opa-url", opa_url, "--format", "sarif", str(COMPLIANT), cwd=tmp_path)
    assert ours.code == 1, ours.stderr
    sarif = json.loads(ours.stdout)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["evidence.missing"]
    assert ours.stderr == "gatekeeper: evidence from ./examples/evidence\n"

    installs = run_cli("check", "--opa-url", opa_url, str(COMPLIANT), cwd=tmp_path / "examples")
    assert installs.code == 0, installs.stderr
    assert installs.stderr == f"gatekeeper: evidence from {EVIDENCE}\n"


def test_policy_impact_reads_the_checkout_it_runs_in(tmp_path):
    """The compliance team's run: edit a threshold in its own checkout, no --policy-dir."""
    repo = tmp_path / "repo"
    shutil.copytree(POLICIES, repo / "policies")
    git = ["git", "-C", str(repo), "-c", "user.name=Compliance", "-c", "user.email=c@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "policies as they are"], check=True)
    loosen(repo / "policies")

    result = run_cli("policy", "impact", "--base", "HEAD", "--evidence", str(EVIDENCE), str(UNFAIR), cwd=repo)
    assert result.code == 1, result.stderr
    assert "DENIED → ADMITTED  InferenceService/lending/credit-scoring-v4 in production" in result.stdout
    assert result.stderr == "gatekeeper: policies from ./policies\n"


# --- flags over settings over defaults -----------------------------------------------------


def test_check_reads_gatekeeper_opa_url_and_a_flag_beats_it(opa_url):
    dead = f"http://127.0.0.1:{free_port()}"
    from_setting = run_cli("check", "--evidence", str(EVIDENCE), str(COMPLIANT), env={"GATEKEEPER_OPA_URL": dead})
    assert from_setting.code == 2
    assert from_setting.stderr.startswith(f"gatekeeper: OPA at {dead} is unreachable")
    flag_wins = run_cli("check", "--evidence", str(EVIDENCE), "--opa-url", opa_url, str(COMPLIANT),
                        env={"GATEKEEPER_OPA_URL": dead})
    assert flag_wins.code == 0, flag_wins.stderr
    assert flag_wins.stderr == ""  # no OPA started here, so no policy folder read


def test_a_bad_setting_exits_2_with_one_line():
    result = run_cli("check", "--evidence", str(EVIDENCE), str(COMPLIANT), env={"GATEKEEPER_OPA_TIMEOUT": "soon"})
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.startswith("gatekeeper: bad setting opa_timeout (GATEKEEPER_OPA_TIMEOUT or its flag): ")
    assert result.stderr.count("\n") == 1


class Serving:
    """`gatekeeper serve` started as a user would, stopped by its own process id."""

    def __init__(self, *args: str, env: dict[str, str], workdir: Path) -> None:
        import os

        self.log = workdir / "serve.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gatekeeper", "serve", *args], cwd=ROOT, stdout=log, stderr=log,
                env={**os.environ, **env},
            )

    def wait_ready(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gatekeeper serve exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        pytest.fail(f"gatekeeper serve not ready on port {port} in {timeout}s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def refused(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.ConnectError:
        return True
    return False


@pytest.mark.parametrize("flag", [False, True], ids=["setting", "flag-beats-setting"])
def test_serve_listens_where_gatekeeper_port_says_unless_a_flag_says_otherwise(opa_url, tmp_path, flag):
    setting_port, flag_port = free_port(), free_port()
    args = ["--opa-url", opa_url, "--evidence", str(EVIDENCE), "--audit-db", f"sqlite:///{tmp_path / 'audit.db'}"]
    gate = Serving(*args, *(["--port", str(flag_port)] if flag else []),
                   env={"GATEKEEPER_PORT": str(setting_port)}, workdir=tmp_path)
    try:
        listening, silent = (flag_port, setting_port) if flag else (setting_port, flag_port)
        gate.wait_ready(listening)
        assert refused(silent)
    finally:
        gate.stop()
