"""Render reports for people (table) and machines (json, junit, sarif, github).

Every renderer takes the reports of one run keyed by environment, in the order the user
named them (`--environment staging,production`). With one environment the JSON is the
DESIGN §6 report itself; with several it is

    {"allowed": <every environment admits everything>,
     "stops_at": <first environment, in the order given, that denies something, or null>,
     "environments": {"staging": <report>, "production": <report>}}
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from gatekeeper import __version__
from gatekeeper.types.decision import Decision, DecidedModel, Report, SourceLocation, Violation

FORMATS = ("table", "json", "junit", "sarif", "github")
Reports = Mapping[str, Report]

TOOL_NAME = "model-gatekeeper"
TOOL_URI = "https://model-gatekeeper.io"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# Not a requirement: the gate could not evaluate (OPA, evidence source down) and failed closed.
EVALUATION_ERROR_RULE = "gatekeeper.evaluation_error"


# --- shared helpers ------------------------------------------------------------------------


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


def _level(decision: Decision) -> str:
    """How serious a violation of this decision is: it blocks, it warns, or it is recorded."""
    if not decision.allowed:
        return "error"
    return "warning" if decision.enforcement == "warn" else "note"


def _plural(count: int, word: str) -> str:
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


def _who(violation: Violation) -> str:
    """' model@version' for the model a violation is about; '' when it names none."""
    if not violation.model:
        return ""
    return f" {violation.model}@{violation.version}" if violation.version else f" {violation.model}"


def _models_of(decision: Decision) -> list[DecidedModel | None]:
    return list(decision.models) or [None]


def _belongs(violation: Violation, model: DecidedModel | None, decision: Decision) -> bool:
    """A violation belongs to the model it names; one naming no served model to all of them."""
    named = [m for m in decision.models if m.name == violation.model and str(m.version) == violation.version]
    return not named or (model is not None and model in named)


# --- table ---------------------------------------------------------------------------------


def render_table(report: Report, console: Console, *, verbose: bool = False) -> None:
    """What to fix, per object: model@version, risk class, then one line per violation."""
    for decision in report.results:
        verdict, style = _verdict(decision)
        where = f"  ({decision.source.file}:{decision.source.line})" if decision.source else ""
        console.print(f"[{style}]{verdict}[/] {escape(decision.object.display())} in {escape(decision.environment)}{escape(where)}")
        for model in decision.models:
            console.print(f"  model {escape(model.name)}@{escape(str(model.version))}  risk class: {model.risk_class or 'unknown'}")
        if decision.error:
            console.print(f"  [red]error:[/] {escape(decision.error)}")
        for violation in decision.violations:
            console.print(f"  [red]✗[/] [bold]{escape(violation.requirement)}[/]{escape(_who(violation))}: {escape(violation.message)}")
            if violation.observed is not None or violation.threshold is not None:
                console.print(f"      observed: {escape(_observed(violation.observed))}   threshold: {escape(_observed(violation.threshold))}")
            if violation.remediation:
                console.print(f"      fix: {escape(violation.remediation)}")
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
        text += f" with {_plural(warnings, 'warning')}"
    if recorded:
        text += f"{' and' if warnings else ''} with {_plural(recorded, 'violation')} recorded (dry run)"
    return text


def stops_at(reports: Reports) -> str | None:
    return next((environment for environment, report in reports.items() if not report.allowed), None)


def promotion_summary(reports: Reports) -> str:
    stop = stops_at(reports)
    head = f"promotion stops at {stop}" if stop else "promotion passes"
    return f"{head}: " + ", ".join(environment_summary(env, report) for env, report in reports.items())


def table_text(reports: Reports, *, verbose: bool = False) -> str:
    """The table as plain text (for --output FILE with --format table)."""
    buffer = io.StringIO()
    render_tables(reports, Console(file=buffer, no_color=True, soft_wrap=True, width=200, emoji=False), verbose=verbose)
    return buffer.getvalue()


# --- json ----------------------------------------------------------------------------------


def render_json(report: Report) -> str:
    return report.model_dump_json(by_alias=True, indent=2)


def json_document(reports: Reports) -> dict[str, Any]:
    if len(reports) == 1:
        return next(iter(reports.values())).model_dump(mode="json", by_alias=True)
    return {
        "allowed": all(report.allowed for report in reports.values()),
        "stops_at": stops_at(reports),
        "environments": {env: report.model_dump(mode="json", by_alias=True) for env, report in reports.items()},
    }


def render_json_reports(reports: Reports) -> str:
    if len(reports) == 1:
        return render_json(next(iter(reports.values())))
    return json.dumps(json_document(reports), indent=2)


# --- junit ---------------------------------------------------------------------------------


def _violation_text(violation: Violation) -> str:
    lines = [f"[{violation.requirement}]{_who(violation)}: {violation.message}"]
    if violation.observed is not None or violation.threshold is not None:
        lines.append(f"    observed: {_observed(violation.observed)}   threshold: {_observed(violation.threshold)}")
    if violation.remediation:
        lines.append(f"    fix: {violation.remediation}")
    return "\n".join(lines)


def render_junit(reports: Reports, *, verbose: bool = False) -> str:
    """JUnit XML: a test suite per environment, a test case per object and model it serves.

    A denied case fails and lists its violations; a case the gate could not evaluate is
    an error; warnings and dry-run violations of admitted cases go to system-out; objects
    that serve no model appear as skipped cases only with --verbose.
    """
    from junit_xml import TestCase, TestSuite, to_xml_report_string

    suites = []
    for environment, report in reports.items():
        cases = []
        for decision in report.results:
            for model in _models_of(decision):
                label = f"{model.name}@{model.version}" if model else "(no model)"
                case = TestCase(
                    name=f"{decision.object.display()} {label}", classname=f"gatekeeper.{environment}",
                    file=decision.source.file if decision.source else None,
                    line=decision.source.line if decision.source else None,
                )
                violations = [v for v in decision.violations if _belongs(v, model, decision)]
                text = "\n".join(_violation_text(v) for v in violations)
                if decision.error:
                    case.add_error_info(message=f"gate could not evaluate: {decision.error}", output=text or None)
                elif not decision.allowed:
                    if violations:
                        message = f"denied in {environment}: " + ", ".join(v.requirement for v in violations)
                    else:
                        message = f"denied in {environment} (violations of another model of this object)"
                    case.add_failure_info(message=message, output=text or None, failure_type="denied")
                else:
                    notes = [*decision.warnings] if decision.enforcement == "warn" else []
                    if decision.enforcement == "dryrun" and violations:
                        notes = [f"dry run, recorded: {_violation_text(v).splitlines()[0]}" for v in violations]
                    case.stdout = "\n".join(notes) or None
                cases.append(case)
        if verbose:
            for skipped in report.skipped:
                case = TestCase(name=skipped.object.display(), classname=f"gatekeeper.{environment}",
                                file=skipped.source.file if skipped.source else None,
                                line=skipped.source.line if skipped.source else None)
                case.add_skipped_info(message=f"not model-serving: {skipped.reason}")
                cases.append(case)
        suites.append(TestSuite(f"gatekeeper check ({environment})", cases))
    return to_xml_report_string(suites, prettyprint=True, encoding="utf-8")


# --- sarif ---------------------------------------------------------------------------------


def _rule_name(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-]", rule_id) if part)


def _location(source: SourceLocation | None, base: Path | None) -> list[dict[str, Any]]:
    if source is None:
        return []
    uri = artifact_path(source.file, base)
    if uri == "<stdin>":
        uri = "stdin"
    artifact: dict[str, Any] = {"uri": Path(uri).as_uri() if Path(uri).is_absolute() else uri}
    if not Path(uri).is_absolute():
        artifact["uriBaseId"] = "%SRCROOT%"
    return [{"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": max(1, source.line)}}}]


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


def render_sarif(reports: Reports, *, base: Path | None = None) -> str:
    """SARIF 2.1.0: one run; a rule per requirement ID (its remediation is the help text);
    a result per violation, located at the file and line of the object's document."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []

    def rule(rule_id: str, remediation: str) -> int:
        if rule_id not in rules:
            family = rule_id.split(".", 1)[0]
            help_text = remediation or "See the requirement matrix (policies/gatekeeper/matrix/requirements.yaml)."
            rules[rule_id] = {
                "id": rule_id,
                "name": _rule_name(rule_id),
                "shortDescription": {"text": f"Model Gatekeeper requirement {rule_id}"},
                "fullDescription": {"text": help_text},
                "help": {"text": help_text, "markdown": f"**{rule_id}**\n\n{help_text}"},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["model-governance", family]},
            }
        return list(rules).index(rule_id)  # the matrix gives one remediation per requirement

    for environment, report in reports.items():
        for decision in report.results:
            where = _location(decision.source, base)
            subject = f"{decision.object.display()} in {environment}"
            if decision.error:
                index = rule(EVALUATION_ERROR_RULE, "Make the failing component (OPA, the evidence source) reachable and run the check again.")
                results.append({
                    "ruleId": EVALUATION_ERROR_RULE, "ruleIndex": index, "level": "error" if not decision.allowed else "warning",
                    "message": {"text": f"{subject}: the gate could not evaluate: {decision.error}"},
                    "locations": where,
                    "partialFingerprints": {"gatekeeperDecision/v1": _fingerprint(environment, decision.object.display(), EVALUATION_ERROR_RULE)},
                    "properties": {"environment": environment, "object": decision.object.display()},
                })
            for violation in decision.violations:
                index = rule(violation.requirement, violation.remediation)
                text = f"{_who(violation).strip() or decision.object.display()}: {violation.message}"
                if violation.observed is not None or violation.threshold is not None:
                    text += f" (observed {_observed(violation.observed)}, threshold {_observed(violation.threshold)})"
                results.append({
                    "ruleId": violation.requirement, "ruleIndex": index, "level": _level(decision),
                    "message": {"text": f"{text} [{subject}, enforcement {decision.enforcement}]"},
                    "locations": where,
                    "partialFingerprints": {"gatekeeperViolation/v1": _fingerprint(
                        environment, decision.object.display(), violation.requirement, violation.model, violation.version)},
                    "properties": {
                        "environment": environment, "object": decision.object.display(), "model": violation.model,
                        "version": violation.version, "enforcement": decision.enforcement, "allowed": decision.allowed,
                        "observed": violation.observed, "threshold": violation.threshold,
                    },
                })
            for waived in decision.waived:
                index = rule(waived.requirement, waived.remediation)
                results.append({
                    "ruleId": waived.requirement, "ruleIndex": index, "level": "note",
                    "message": {"text": f"{_who(waived).strip()}: {waived.message} [{subject}, waived]"},
                    "locations": where,
                    "suppressions": [{"kind": "external", "status": "accepted",
                                      "justification": waived.waiver_reason or f"waiver {waived.waiver}"}],
                    "partialFingerprints": {"gatekeeperViolation/v1": _fingerprint(
                        environment, decision.object.display(), waived.requirement, waived.model, waived.version)},
                    "properties": {"environment": environment, "object": decision.object.display(),
                                   "waiver": waived.waiver, "waiver_expires_at": waived.waiver_expires_at},
                })

    base_dir = (base or Path.cwd()).resolve()
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
                "informationUri": TOOL_URI, "rules": list(rules.values()),
            }},
            "automationDetails": {"id": f"{TOOL_NAME}/{'+'.join(reports)}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": base_dir.as_uri() + "/"}},
            "results": results,
            "properties": {"environments": {env: {"allowed": r.allowed, "checked": len(r.results),
                                                  "skipped": len(r.skipped)} for env, r in reports.items()}},
        }],
    }
    return json.dumps(document, indent=2)


# --- github --------------------------------------------------------------------------------


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
            level = _GITHUB_LEVEL[_level(decision)]
            for violation in decision.violations:
                message = f"{subject}{_who(violation)}: {violation.message}"
                if violation.observed is not None or violation.threshold is not None:
                    message += f"\nobserved: {_observed(violation.observed)}, threshold: {_observed(violation.threshold)}"
                if violation.remediation:
                    message += f"\nfix: {violation.remediation}"
                lines.append(workflow_command(level, message, file=file, line=line,
                                              title=f"{violation.requirement} ({environment})"))
            for waived in decision.waived:
                lines.append(workflow_command(
                    "notice", f"{subject}{_who(waived)}: waived ({waived.waiver}): {waived.message}",
                    file=file, line=line, title=f"{waived.requirement} ({environment}, waived)"))
    for environment, report in reports.items():
        denied = sum(not d.allowed for d in report.results)
        lines.append(f"{environment}: {len(report.results)} checked, {len(report.results) - denied} admitted, {denied} denied"
                     + (f", {len(report.skipped)} skipped (not model-serving)" if report.skipped else ""))
    if len(reports) > 1:
        lines.append(promotion_summary(reports))
    return "\n".join(lines) + "\n"


# --- dispatch ------------------------------------------------------------------------------


def render(output_format: str, reports: Reports, *, verbose: bool = False, base: Path | None = None) -> str:
    """The report as text in one of FORMATS."""
    if output_format == "table":
        return table_text(reports, verbose=verbose)
    if output_format == "json":
        return render_json_reports(reports) + "\n"
    if output_format == "junit":
        return render_junit(reports, verbose=verbose)
    if output_format == "sarif":
        return render_sarif(reports, base=base) + "\n"
    if output_format == "github":
        return render_github(reports, base=base)
    raise ValueError(f"unknown format '{output_format}' (choose one of: {', '.join(FORMATS)})")


def merge(reports: Iterable[Report]) -> Report:
    """One report from several (chunks of one run, in order)."""
    merged = Report(allowed=True, results=[], skipped=[])
    for report in reports:
        merged.results.extend(report.results)
        merged.skipped.extend(report.skipped)
    merged.allowed = all(d.allowed for d in merged.results)
    return merged
