"""A copy of the example evidence per test, and `gatekeeper check` of the compliant workload."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ..conftest import EVIDENCE, MANIFESTS, CliResult, run_cli, unreviewed_policies

WORKLOAD = MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"


@dataclass
class Bundle:
    root: Path    # the evidence root `check --evidence` reads
    folder: Path  # credit-scoring/3, a compliant high-risk bundle

    @property
    def raw(self) -> dict:
        return yaml.safe_load((self.folder / "evidence.yaml").read_text())

    def drop(self, *keys: str) -> None:
        raw = self.raw
        for key in keys:
            raw.pop(key, None)
        (self.folder / "evidence.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture
def bundle(tmp_path) -> Bundle:
    root = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, root)
    return Bundle(root, root / "credit-scoring" / "3")


# The sections the producers write. A data scientist who redoes one asks its reviewers to sign
# again; these tests judge the producers' output, on policies whose sign-offs do not review it.
PRODUCED = ["data_quality", "drift", "explainability", "fairness", "lineage", "pii_scan"]


@pytest.fixture
def decide(tmp_path):
    """The gate's decision on credit-scoring 3 in production: (allowed, {requirement: message})."""
    policies = unreviewed_policies(tmp_path / "unreviewed", PRODUCED)

    def invoke(bundle: Bundle) -> tuple[bool, dict[str, str]]:
        result: CliResult = run_cli("check", "--evidence", str(bundle.root), "--policy-dir", policies,
                                    "--format", "json", str(WORKLOAD))
        assert result.code in (0, 1), result.stderr
        [decision] = result.json()["results"]
        return decision["allowed"], {v["requirement"]: v["message"] for v in decision["violations"]}

    return invoke


def one_line(result: CliResult) -> str:
    """The single stderr line of a refused command (exit 2)."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]
