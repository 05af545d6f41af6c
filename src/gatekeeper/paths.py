"""Where the project's own files are, in a source checkout and in an installed image."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# src/gatekeeper/paths.py -> the checkout root; in an installed wheel this points into
# site-packages, where policies/ and .tools/ do not exist and the fallbacks apply.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


# Defaults start from where the user stands: a compliance team editing its own checkout
# must be judged by its policies, not by those of the checkout the tool was installed from.
# Then the install's own folders, then the container image's.


def default_policy_dir() -> Path:
    for candidate in (Path("policies"), PROJECT_ROOT / "policies", Path("/policies")):
        if (candidate / "gatekeeper").is_dir():
            return candidate
    return PROJECT_ROOT / "policies"


def default_evidence_dir() -> Path:
    for candidate in (Path("examples/evidence"), PROJECT_ROOT / "examples" / "evidence", Path("/evidence")):
        if candidate.is_dir():
            return candidate
    return PROJECT_ROOT / "examples" / "evidence"


def find_tool(name: str) -> str | None:
    """A tool installed by scripts/install-tool.sh, else one on PATH."""
    override = os.environ.get(f"GATEKEEPER_{name.upper()}_BINARY")
    if override:
        return override
    local = PROJECT_ROOT / ".tools" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which(name)
