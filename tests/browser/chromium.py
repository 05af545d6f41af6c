"""Debian's Chromium driven by Playwright for Python: the real browser the console's pages
are tested in. Playwright's own browser download (`playwright install`) is never used:
scripts/install-chromium.sh installs Chromium from Debian, and Playwright launches it by path."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..conftest import ROOT

CHROMIUM = Path(os.environ.get("GATEKEEPER_CHROMIUM", "/usr/bin/chromium"))
# Offline: without the background-networking flags Chromium keeps calling home (updates,
# sync, field trials) and floods a closed network with retries. Playwright adds --headless
# and a fresh profile directory of its own.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions"]
# Screenshots of each scenario: test artifacts CI keeps (git-ignored).
ARTIFACTS = Path(os.environ.get("GATEKEEPER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM}: run `make install` (scripts/install-chromium.sh)"
    return None


def artifact(name: str) -> Path:
    """A screenshot path for a test's node name (parameters and all, file-name safe)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / (re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:150] + ".png")
