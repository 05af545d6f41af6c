"""The tool libraries are optional extras: never loaded by the webhook or by starting the CLI."""

from __future__ import annotations

import subprocess
import sys

from ..conftest import ROOT

TOOLS = ("evidently", "great_expectations", "presidio_analyzer", "shap", "dvc", "pandas", "sklearn", "spacy")


def test_producer_libraries_stay_off_the_webhooks_import_path():
    code = ("import sys, gatekeeper.cli.app, gatekeeper.cli.evidence, gatekeeper.webhook.app, "
            "gatekeeper.evidence.facts, gatekeeper.evidence.producers.common; "
            f"print(sorted(m for m in {TOOLS!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
