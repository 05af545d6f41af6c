"""Wording every report format shares: how a decision and a violation are named.

A run's reports are keyed by environment, in the order the user named them
(`--environment staging,production`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from gatekeeper.types.decision import Decision, DecidedModel, Report, Violation
from gatekeeper.types.names import model_label

Reports = Mapping[str, Report]

# Not a requirement: the gate could not evaluate (OPA, evidence source down) and failed closed.
EVALUATION_ERROR_RULE = "gatekeeper.evaluation_error"


def observed_text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def verdict_of(decision: Decision) -> tuple[str, str]:
    if decision.error and not decision.allowed:
        return "DENIED (gate could not evaluate)", "bold red"
    if not decision.allowed:
        return "DENIED", "bold red"
    if decision.violations and decision.enforcement == "warn":
        return "ADMITTED with warnings", "bold yellow"
    if decision.violations and decision.enforcement == "dryrun":
        return "ADMITTED (dry run: violations recorded)", "bold yellow"
    return "ADMITTED", "bold green"


def severity(decision: Decision) -> str:
    """How serious a violation of this decision is: it blocks, it warns, or it is recorded."""
    if not decision.allowed:
        return "error"
    return "warning" if decision.enforcement == "warn" else "note"


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def artifact_path(file: str, base: Path | None = None) -> str:
    """A manifest path as CI systems want it: relative to the working directory (the
    repository root in CI), with forward slashes; absolute only when outside it."""
    if file.startswith("<"):  # <stdin>
        return file
    base = (base or Path.cwd()).resolve()
    path = Path(file)
    absolute = path if path.is_absolute() else base / path
    try:
        return Path(os.path.normpath(absolute)).relative_to(base).as_posix()
    except ValueError:
        return Path(os.path.normpath(absolute)).as_posix()


def who(violation: Violation) -> str:
    """' model@version' for the model a violation is about; '' when it names none."""
    if not violation.model:
        return ""
    return " " + model_label(violation.model, violation.version)


def models_of(decision: Decision) -> list[DecidedModel | None]:
    return list(decision.models) or [None]


def belongs(violation: Violation, model: DecidedModel | None, decision: Decision) -> bool:
    """A violation belongs to the model it names; one naming no served model to all of them."""
    named = [m for m in decision.models if m.name == violation.model and str(m.version) == violation.version]
    return not named or (model is not None and model in named)
