"""Render a Report for people (table) and machines (json)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

from .models import Decision, Report


def _observed(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _verdict(decision: Decision) -> tuple[str, str]:
    if decision.error and not decision.allowed:
        return "DENIED (gate could not evaluate)", "bold red"
    if not decision.allowed:
        return "DENIED", "bold red"
    if decision.violations and decision.enforcement == "warn":
        return "ADMITTED with warnings", "bold yellow"
    if decision.violations and decision.enforcement == "dryrun":
        return "ADMITTED (dry run: violations recorded)", "bold yellow"
    return "ADMITTED", "bold green"


def render_table(report: Report, console: Console, *, verbose: bool = False) -> None:
    """What to fix, per object: model@version, risk class, then one line per violation."""
    for decision in report.results:
        verdict, style = _verdict(decision)
        where = f"  ({decision.source.file}:{decision.source.line})" if decision.source else ""
        console.print(f"[{style}]{verdict}[/] {escape(decision.object.display())} in {decision.environment}{escape(where)}")
        for model in decision.models:
            console.print(f"  model {escape(model.name)}@{escape(str(model.version))}  risk class: {model.risk_class or 'unknown'}")
        if decision.error:
            console.print(f"  [red]error:[/] {escape(decision.error)}")
        for violation in decision.violations:
            console.print(f"  [red]✗[/] [bold]{escape(violation.requirement)}[/] {escape(violation.model)}@{escape(violation.version)}: {escape(violation.message)}")
            if violation.observed is not None or violation.threshold is not None:
                console.print(f"      observed: {escape(_observed(violation.observed))}   threshold: {escape(_observed(violation.threshold))}")
            if violation.remediation:
                console.print(f"      fix: {escape(violation.remediation)}")
        for warning in decision.warnings:
            if decision.enforcement == "warn" and any(warning == v.line() for v in decision.violations):
                continue  # already listed above with its remediation
            console.print(f"  [yellow]![/] {escape(warning)}")
    if verbose:
        for skipped in report.skipped:
            where = f"  ({skipped.source.file}:{skipped.source.line})" if skipped.source else ""
            console.print(f"[dim]SKIPPED {escape(skipped.object.display())}: {escape(skipped.reason)}{escape(where)}[/]")
    denied = sum(not d.allowed for d in report.results)
    console.print(
        f"{len(report.results)} checked, {len(report.results) - denied} admitted, {denied} denied"
        + (f", {len(report.skipped)} skipped (not model-serving)" if report.skipped else "")
    )


def render_json(report: Report) -> str:
    return report.model_dump_json(by_alias=True, indent=2)
