"""`gatekeeper check`: the CI dry-run. Same core as the webhook (pipeline.gate.Gate.evaluate).

Exit codes (README "The CLI" and "The webhook"): 0 all admitted, 1 something denied, 2 could not evaluate, with a
one-line reason on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from gatekeeper.cli.common import (
    Environment, Evidence, Fail, Mlflow, OpaUrl, PolicyDir, environments as parse_environments, fail,
    note_default_folders, settings as build_settings, as_of as read_at,
)
from gatekeeper.cli.progress import MIN_FILES, ProgressBar

if TYPE_CHECKING:
    from concurrent.futures import Future

    from gatekeeper.cli.manifests import LoadResult
    from gatekeeper.config import Settings
    from gatekeeper.pipeline.gate import Evaluation, Manifest

# CI looks up many versions at once; the webhook's budgets (2 s per OPA query, 1 s per
# evidence call) are for one admission. A GATEKEEPER_* setting or a flag overrides these.
CHECK_DEFAULTS = {"opa_timeout": 60.0, "evidence_timeout": 10.0}


def check(
    paths: Annotated[list[str], typer.Argument(help="Manifest files or folders (recursive); '-' reads stdin.")],
    environment: Environment = "production",
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
    opa_timeout: Annotated[Optional[float], typer.Option(
        help="Seconds to wait for one OPA query (default: GATEKEEPER_OPA_TIMEOUT, else 60).")] = None,
    evidence_timeout: Annotated[Optional[float], typer.Option(
        help="Seconds to wait for one evidence source call (default: GATEKEEPER_EVIDENCE_TIMEOUT, else 10).")] = None,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json | junit | sarif | github")] = "table",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the report in --format to this file; the terminal then shows the table.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List objects skipped as not model-serving.")] = False,
    remote: Annotated[Optional[str], typer.Option(help="Ask a running gate (its /v1/evaluate) instead of starting OPA here.")] = None,
    token: Annotated[Optional[str], typer.Option(envvar="GATEKEEPER_EVALUATE_TOKEN", show_envvar=True, help="Bearer token for --remote.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="Evaluate as of this time (RFC 3339, e.g. 2026-12-01T00:00:00Z): are sign-offs and waivers still valid then?")] = None,
) -> None:
    """Dry-run an admission: would these manifests be admitted in ENVIRONMENT?

    Exit 0: everything admitted in every environment; 1: something denied; 2: could not
    evaluate (bad input, unreachable gate, OPA or evidence source), one line per reason
    on stderr. Without --output the report goes to stdout in --format; with --output it
    goes to the file and stdout shows the table.
    """
    from gatekeeper import reports
    from gatekeeper.cli.manifests import LoadResult, load_manifests, manifest_inputs

    if output_format not in reports.FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(reports.FORMATS)})")
    names = parse_environments(environment)
    if remote and (evidence or mlflow or opa_url or policy_dir):
        raise fail("--remote asks a running gate with its own policies and evidence; "
                   "drop --evidence/--mlflow/--opa-url/--policy-dir")
    as_of = read_at(at) if at is not None else None
    if remote and as_of is not None:
        raise fail("--at evaluates here, as of another time; a running gate (--remote) decides as of now")
    settings = None
    if not remote:
        settings = build_settings(CHECK_DEFAULTS, evidence_dir=evidence, mlflow_url=mlflow, opa_url=opa_url,
                                  policy_dir=policy_dir, opa_timeout=opa_timeout, evidence_timeout=evidence_timeout)
        note_default_folders(settings, policies=not settings.opa_url, evidence=True)

    files, _ = manifest_inputs(paths)
    loaded = LoadResult()
    with ProgressBar(len(files) >= MIN_FILES) as progress:
        progress.start("reading manifests", len(files))

        def read() -> LoadResult:
            result = load_manifests(paths, on_file=lambda _: progress.advance())
            loaded.manifests, loaded.errors = result.manifests, result.errors
            return loaded

        try:
            evaluations = (_check_remote(remote, token, read().manifests, names, progress) if remote
                           else _check_local(settings, read, names, progress, as_of))
        except Fail as exc:
            progress.stop()
            for error in loaded.errors:
                typer.echo(f"gatekeeper: {error}", err=True)
            raise fail(str(exc), exc.code) from None
    for error in loaded.errors:
        typer.echo(f"gatekeeper: {error}", err=True)

    results = {env: evaluation.report for env, evaluation in evaluations.items()}
    problems = list(dict.fromkeys(p for evaluation in evaluations.values() for p in evaluation.problems))
    if output is not None:
        try:
            output.write_text(reports.render(output_format, results, verbose=verbose), encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
    if output is not None or output_format == "table":
        from gatekeeper.reports.table import render_tables

        render_tables(results, Console(soft_wrap=True), verbose=verbose)
    else:
        sys.stdout.write(reports.render(output_format, results, verbose=verbose))
        sys.stdout.flush()
    for problem in problems:
        typer.echo(f"gatekeeper: {problem}", err=True)
    if loaded.errors or problems:
        raise typer.Exit(2)
    raise typer.Exit(0 if all(report.allowed for report in results.values()) else 1)


def _check_local(settings: Settings, read: Callable[[], LoadResult], environments: list[str],
                 progress: ProgressBar, as_of: datetime | None = None) -> dict[str, Evaluation]:
    """Evaluate in each environment with a gate of our own.

    A worker thread reads the manifests while the main thread opens the gate (`open_gate`
    starts OPA there, bound to that thread by PR_SET_PDEATHSIG, and reads its policy).
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="read") as pool:
        reading = pool.submit(read)
        try:
            return _evaluate_local(settings, reading, environments, progress, as_of)
        except Fail:
            reading.exception()  # the input's own errors are reported whatever failed
            raise


def _evaluate_local(settings: Settings, reading: Future[LoadResult], environments: list[str],
                    progress: ProgressBar, as_of: datetime | None) -> dict[str, Evaluation]:
    from gatekeeper.evidence.files import EvidenceRootError
    from gatekeeper.opa.client import PolicyError
    from gatekeeper.opa.server import OpaStartError
    from gatekeeper.pipeline.assemble import open_gate
    from gatekeeper.pipeline.gate import UnknownEnvironment, utc_now
    from gatekeeper.types.decision import Report

    async def run() -> dict[str, Evaluation]:
        clock = utc_now if as_of is None else lambda: as_of
        async with open_gate(settings, clock=clock) as gate:  # asks OPA for its policy while the manifests are still read
            manifests = (await asyncio.wrap_future(reading)).manifests
            for environment in environments:
                gate.check_environment(environment)  # refuse a typo before evaluating anything
            # Chunks only move the progress bar; one chunk otherwise (the gate batches OPA queries).
            size = 250 if progress.enabled else max(1, len(manifests))
            evaluations = {}
            for environment in environments:
                progress.start(f"evaluating in {environment}", len(manifests))
                parts = []
                for start in range(0, max(1, len(manifests)), size):
                    chunk = manifests[start:start + size]
                    parts.append(await gate.evaluate(chunk, environment))
                    progress.advance(len(chunk))
                evaluation = parts[0]
                if len(parts) > 1:
                    evaluation.report = Report.merge(p.report for p in parts)
                    evaluation.problems = list(dict.fromkeys(x for p in parts for x in p.problems))
                evaluations[environment] = evaluation
            return evaluations

    try:
        return asyncio.run(run())
    except (EvidenceRootError, UnknownEnvironment, OpaStartError, PolicyError, ValueError) as exc:
        raise Fail(str(exc)) from None


def _check_remote(url: str, token: str | None, manifests: list[Manifest], environments: list[str],
                  progress: ProgressBar) -> dict[str, Evaluation]:
    from gatekeeper.cli.remote import RemoteError, evaluate_all

    progress.start(f"asking {url}", len(manifests) * len(environments))
    try:
        return evaluate_all(url, token, manifests, environments, on_chunk=progress.advance)
    except RemoteError as exc:
        raise Fail(str(exc)) from None
