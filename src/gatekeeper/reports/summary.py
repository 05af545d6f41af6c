"""Where a promotion stops: one sentence over the reports of several environments."""

from __future__ import annotations

from gatekeeper.reports.common import Reports, plural
from gatekeeper.types.decision import Report


def environment_summary(environment: str, report: Report) -> str:
    """'admitted in staging with 2 warnings' / 'denied in production: <object> (<ids>); ...'."""
    denied = [d for d in report.results if not d.allowed]
    if denied:
        reasons = []
        for decision in denied:
            ids = sorted({v.requirement for v in decision.violations})
            why = ", ".join(ids) if ids else (f"gate could not evaluate: {decision.error}" if decision.error else "denied")
            reasons.append(f"{decision.object.display()} ({why})")
        return f"denied in {environment}: " + "; ".join(reasons)
    warnings = sum(len(d.warnings) for d in report.results)
    recorded = sum(len(d.violations) for d in report.results if d.enforcement == "dryrun")
    text = f"admitted in {environment}"
    if warnings:
        text += f" with {plural(warnings, 'warning')}"
    if recorded:
        text += f"{' and' if warnings else ''} with {plural(recorded, 'violation')} recorded (dry run)"
    return text


def stops_at(reports: Reports) -> str | None:
    return next((environment for environment, report in reports.items() if not report.allowed), None)


def promotion_summary(reports: Reports) -> str:
    stop = stops_at(reports)
    head = f"promotion stops at {stop}" if stop else "promotion passes"
    return f"{head}: " + ", ".join(environment_summary(env, report) for env, report in reports.items())
