"""The table for people: what to fix, per object, per environment."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape

from gatekeeper.reports.common import Reports, observed_text, verdict_of, who
from gatekeeper.reports.summary import promotion_summary
from gatekeeper.types.decision import Report


def render_table(report: Report, console: Console, *, verbose: bool = False) -> None:
    """What to fix, per object: model@version, risk class, then one line per violation."""
    for decision in report.results:
        verdict, style = verdict_of(decision)
        where = f"  ({decision.source.file}:{decision.source.line})" if decision.source else ""
        console.print(f"[{style}]{verdict}[/] {escape(decision.object.display())} in {escape(decision.environment)}{escape(where)}")
        for model in decision.models:
            console.print(f"  model {escape(model.name)}@{escape(str(model.version))}  risk class: {model.risk_class or 'unknown'}")
        if decision.error:
            console.print(f"  [red]error:[/] {escape(decision.error)}")
        for violation in decision.violations:
            console.print(f"  [red]✗[/] [bold]{escape(violation.requirement)}[/]{escape(who(violation))}: {escape(violation.message)}")
            if violation.observed is not None or violation.threshold is not None:
                console.print(f"      observed: {escape(observed_text(violation.observed))}   threshold: {escape(observed_text(violation.threshold))}")
            if violation.remediation:
                console.print(f"      fix: {escape(violation.remediation)}")
            if violation.references:
                console.print(f"      serves: {escape(violation.labels())}")
        for warning in decision.warnings:
            if decision.enforcement == "warn" and any(warning == v.line for v in decision.violations):
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


def render_tables(reports: Reports, console: Console, *, verbose: bool = False) -> None:
    """One table per environment; with several, a last line saying where a promotion stops."""
    if len(reports) == 1:
        render_table(next(iter(reports.values())), console, verbose=verbose)
        return
    for environment, report in reports.items():
        console.print(f"[bold]== {escape(environment)} ==[/]")
        render_table(report, console, verbose=verbose)
        console.print()
    console.print(escape(promotion_summary(reports)))


def table_text(reports: Reports, *, verbose: bool = False) -> str:
    """The table as plain text (for --output FILE with --format table)."""
    buffer = io.StringIO()
    render_tables(reports, Console(file=buffer, no_color=True, soft_wrap=True, width=200, emoji=False), verbose=verbose)
    return buffer.getvalue()
