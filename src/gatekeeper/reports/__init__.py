"""Reports for people (table) and machines (json, junit, sarif, github), one module each.

Every renderer takes the reports of one run keyed by environment, in the order the user
named them (`--environment staging,production`).
"""

from __future__ import annotations

from pathlib import Path

from gatekeeper.reports.common import Reports

FORMATS = ("table", "json", "junit", "sarif", "github")


def render(output_format: str, reports: Reports, *, verbose: bool = False, base: Path | None = None) -> str:
    """The report as text in one of FORMATS; each format's module is imported when asked for."""
    if output_format == "table":
        from gatekeeper.reports.table import table_text

        return table_text(reports, verbose=verbose)
    if output_format == "json":
        from gatekeeper.reports.json_report import render_json_reports

        return render_json_reports(reports) + "\n"
    if output_format == "junit":
        from gatekeeper.reports.junit import render_junit

        return render_junit(reports, verbose=verbose)
    if output_format == "sarif":
        from gatekeeper.reports.sarif import render_sarif

        return render_sarif(reports, base=base) + "\n"
    if output_format == "github":
        from gatekeeper.reports.github import render_github

        return render_github(reports, base=base)
    raise ValueError(f"unknown format '{output_format}' (choose one of: {', '.join(FORMATS)})")
