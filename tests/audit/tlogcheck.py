"""Go's reference implementation (golang.org/x/mod/sumdb/note and sumdb/tlog), built from
tests/interop/tlogcheck with the Go toolchain, to check what the gate writes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tests" / "interop" / "tlogcheck"


def build(into: Path) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain is needed to build the reference checker (tests/interop/tlogcheck)",
                    pytrace=False)
    env = {**os.environ, "GOMODCACHE": str(ROOT / ".tools" / "go" / "mod"),
           "GOCACHE": str(ROOT / ".tools" / "go" / "cache"), "GOFLAGS": "-modcacherw", "CGO_ENABLED": "0"}
    binary = into / "tlogcheck"
    made = subprocess.run([go, "build", "-o", str(binary), "."], cwd=SOURCE, env=env, capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"building tests/interop/tlogcheck failed: {made.stderr.strip()}", pytrace=False)
    return binary


def run(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
