"""`gatekeeper policy coverage`: which references of the regulation map the requirements
serve, per risk class and environment, and which none does.

The answer is the policy's (`data.gatekeeper.coverage.report`, from the matrix, the
families' declarations and policies/gatekeeper/regulations/); this module only asks OPA
and lays the answer out.
"""

from __future__ import annotations

import json
from typing import Any

COVERAGE_QUERY = "data.gatekeeper.coverage.report"
FORMATS = ("table", "json")


class CoverageError(ValueError):
    """The question cannot be answered as asked (one line for the user)."""


def cells_of(document: Any, risk_class: str | None, environment: str | None) -> list[dict[str, Any]]:
    """The policy's cells, after checking the filters name a class and an environment it knows."""
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise CoverageError(f"{COVERAGE_QUERY} is undefined: the policy folder has no regulation coverage")
    for value, known, what in ((risk_class, document.get("risk_classes"), "risk class"),
                               (environment, document.get("environments"), "environment")):
        if value is not None and value not in (known or []):
            raise CoverageError(f"unknown {what} '{value}' (known: {', '.join(known or [])})")
    return document["cells"]


def _ids(references: list[dict[str, Any]]) -> str:
    return ", ".join(r["id"] for r in references) or "-"


def render_table(cells: list[dict[str, Any]]) -> str:
    """Per cell, per text: the references served, and those no requirement serves with their titles."""
    lines = []
    for cell in cells:
        lines.append(f"{cell['risk_class']} in {cell['environment']} ({cell['enforcement']}): "
                     f"{len(cell['requirements'])} requirements evaluated")
        for text in cell["texts"]:
            lines.append(f"  {text['name']} ({text['version']})")
            lines.append(f"    served:  {_ids(text['served'])}")
            if not text["unserved"]:
                lines.append("    no requirement: -")
            for reference in text["unserved"]:
                title = f" {reference['title']}" if reference.get("title") else ""
                lines.append(f"    no requirement: {reference['id']}{title}")
    return "\n".join(lines) + "\n"


def render_json(cells: list[dict[str, Any]]) -> str:
    return json.dumps({"cells": cells}, indent=2, ensure_ascii=False) + "\n"
