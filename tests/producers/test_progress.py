"""Producers show a progress bar on a terminal, and nothing but their one line when not on one."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pandas as pd

from ..conftest import ROOT, run_cli


def test_a_progress_bar_on_a_terminal_and_none_otherwise(tmp_path):
    pd.DataFrame({"note": [f"call me on {i}" for i in range(30)]}).to_csv(tmp_path / "t.csv", index=False)
    args = ["evidence", "pii", "--data", str(tmp_path / "t.csv")]
    main, child = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "gatekeeper", *args], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=child, env={**os.environ, "TERM": "xterm", "COLUMNS": "100"})
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    process.wait(timeout=120)
    os.close(main)
    assert process.returncode == 0
    assert b"PII scan" in seen and b"30/30" in seen  # the bar's description and its count, on the terminal
    piped = run_cli(*args)
    assert piped.code == 0 and piped.stderr == ""
