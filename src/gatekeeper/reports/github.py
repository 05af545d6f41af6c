"""GitHub Actions workflow commands: annotations on the manifest's file and line."""

from __future__ import annotations

from pathlib import Path

from gatekeeper.reports.common import (
    EVALUATION_ERROR_RULE, Reports, artifact_path, observed_text, severity, who,
)
from gatekeeper.reports.summary import promotion_summary


def escape_data(value: str) -> str:
    """A workflow command's message (actions/toolkit `escapeData`)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property value (actions/toolkit `escapeProperty`)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def workflow_command(level: str, message: str, *, file: str | None = None, line: int | None = None,
                     title: str | None = None) -> str:
    properties = []
    if file:
        properties.append(f"file={escape_property(file)}")
        if line:
            properties.append(f"line={line}")
    if title:
        properties.append(f"title={escape_property(title)}")
    return f"::{level}{' ' + ','.join(properties) if properties else ''}::{escape_data(message)}"


def render_github(reports: Reports, *, base: Path | None = None) -> str:
    """GitHub Actions annotations, one per violation, on the manifest's file and line:
    `error` where the environment denies, `warning` where it warns, `notice` for dry runs
    and waivers. A plain summary line per environment follows."""
    lines: list[str] = []
    for environment, report in reports.items():
        for decision in report.results:
            file = artifact_path(decision.source.file, base) if decision.source else None
            if file == "<stdin>":
                file = None
            line = decision.source.line if decision.source else None
            subject = decision.object.display()
            if decision.error:
                lines.append(workflow_command(
                    "error" if not decision.allowed else "warning",
                    f"{subject}: the gate could not evaluate: {decision.error}",
                    file=file, line=line, title=f"{EVALUATION_ERROR_RULE} ({environment})"))
            level = _GITHUB_LEVEL[severity(decision)]
            for violation in decision.violations:
                message = f"{subject}{who(violation)}: {violation.message}"
                if violation.observed is not None or violation.threshold is not None:
                    message += f"\nobserved: {observed_text(violation.observed)}, threshold: {observed_text(violation.threshold)}"
                if violation.remediation:
                    message += f"\nfix: {violation.remediation}"
                lines.append(workflow_command(level, message, file=file, line=line,
                                              title=f"{violation.requirement} ({environment})"))
            for waived in decision.waived:
                lines.append(workflow_command(
                    "notice", f"{subject}{who(waived)}: waived ({waived.waiver}): {waived.message}",
                    file=file, line=line, title=f"{waived.requirement} ({environment}, waived)"))
    for environment, report in reports.items():
        denied = sum(not d.allowed for d in report.results)
        lines.append(f"{environment}: {len(report.results)} checked, {len(report.results) - denied} admitted, {denied} denied"
                     + (f", {len(report.skipped)} skipped (not model-serving)" if report.skipped else ""))
    if len(reports) > 1:
        lines.append(promotion_summary(reports))
    return "\n".join(lines) + "\n"
