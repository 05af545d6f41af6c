"""Shared fixtures: a real OPA server (never mocked), the example evidence, the CLI."""

from __future__ import annotations

import json
import shutil
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gatekeeper.opa.server import OpaServer
from gatekeeper.paths import find_tool

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
EVIDENCE = ROOT / "examples" / "evidence"
MANIFESTS = ROOT / "examples" / "manifests"


def require_tool(name: str) -> str:
    """A component the tests need; missing means the install step is broken: fail, never skip."""
    path = find_tool(name)
    if not path:
        pytest.fail(f"{name} binary not found: run `make install` (scripts/install-tool.sh {name})", pytrace=False)
    return path


@pytest.fixture(scope="session")
def opa_url() -> Iterator[str]:
    server = OpaServer(POLICIES, binary=require_tool("opa"))
    server.start()
    yield server.url
    server.stop()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict:
        return json.loads(self.stdout)


def run_cli(*args: str, stdin: str | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None,
            program: tuple[str, ...] = (sys.executable, "-m", "gatekeeper")) -> CliResult:
    """Run the real `gatekeeper` command in a child process, as a user or CI would."""
    process = subprocess.run(
        [*program, *args],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=120,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )
    return CliResult(process.returncode, process.stdout, process.stderr)


@pytest.fixture
def cli(opa_url: str):
    """The CLI pointed at the session's OPA (starting OPA per call is tested separately)
    and, unless told otherwise, at the example evidence (default folders, and the note
    naming them, are tested separately)."""

    def invoke(*args: str, stdin: str | None = None, **kwargs) -> CliResult:
        if args and args[0] == "check" and "--opa-url" not in args:
            args = (*args, "--opa-url", opa_url)
        if args and args[0] == "check" and not {"--evidence", "--mlflow"} & set(args):
            args = (*args, "--evidence", str(EVIDENCE))
        return run_cli(*args, stdin=stdin, **kwargs)

    return invoke


def unreviewed_policies(tmp_path: Path, sections: list[str]) -> str:
    """A copy of the policies whose sign-offs do not review `sections`: tests that redo those
    sections without asking the reviewers for new sign-offs (the shipped matrix would refuse
    the old ones, tests/test_trust_model.py). `check --policy-dir` starts an OPA of its own on it."""
    policies = tmp_path / "policies"
    if not policies.exists():
        shutil.copytree(POLICIES, policies)
    matrix_file = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix = yaml.safe_load(matrix_file.read_text())
    matrix["signoff_roles"]["default"]["reviews_all_but"] = sorted(set(sections) | {"drift"})
    matrix_file.write_text(yaml.safe_dump(matrix))
    return str(policies)
