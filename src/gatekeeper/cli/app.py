"""`gatekeeper`: the CLI front door. Same core as the webhook (gate.Gate.evaluate).

Exit codes (DESIGN §7): 0 all admitted, 1 something denied, 2 could not evaluate, with a
one-line reason on stderr. No traceback ever reaches a user.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from gatekeeper.cli import evidence as evidence_cli, policy as policy_cli, signing as signing_cli
from gatekeeper.cli import audit as audit_cli
from gatekeeper.config import Settings

if TYPE_CHECKING:
    from concurrent.futures import Future

    from gatekeeper.pipeline.gate import Evaluation, Manifest
    from gatekeeper.cli.manifests import LoadResult

app = typer.Typer(
    help="Model Gatekeeper: policy-as-code admission gate for ML model deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(signing_cli.app, name="signoff")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(policy_cli.app, name="policy")
app.add_typer(evidence_cli.app, name="evidence")
app.add_typer(signing_cli.waiver_app, name="waiver")

class Fail(Exception):
    """A one-line reason and an exit code (2: could not evaluate / bad input)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"gatekeeper: {message}", err=True)
    return typer.Exit(code)


# Show a progress bar (on a terminal only) from this many input files on.
PROGRESS_MIN_FILES = 20


@app.command()
def check(
    paths: Annotated[list[str], typer.Argument(help="Manifest files or folders (recursive); '-' reads stdin.")],
    environment: Annotated[str, typer.Option("--environment", "-e", help="Environment(s) to evaluate for, comma-separated: staging,production.")] = "production",
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder (<root>/<model>/<version>/evidence.yaml).")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="MLflow tracking URL to read evidence from.")] = None,
    opa_url: Annotated[Optional[str], typer.Option(help="Use a running OPA instead of starting one.")] = None,
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder for the OPA the CLI starts.")] = None,
    opa_timeout: Annotated[float, typer.Option(help="Seconds to wait for one OPA query.")] = 60.0,
    evidence_timeout: Annotated[float, typer.Option(help="Seconds to wait for one evidence source call.")] = 10.0,
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
    from gatekeeper.reports import render as reports
    from gatekeeper.cli.manifests import LoadResult, load_manifests, manifest_inputs

    if output_format not in reports.FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(reports.FORMATS)})")
    environments = list(dict.fromkeys(e.strip() for e in environment.split(",") if e.strip()))
    if not environments:
        raise fail("--environment names no environment")
    if remote and (evidence or mlflow or opa_url or policy_dir):
        raise fail("--remote asks a running gate with its own policies and evidence; "
                   "drop --evidence/--mlflow/--opa-url/--policy-dir")
    as_of = _as_of(at) if at is not None else None
    if remote and as_of is not None:
        raise fail("--at evaluates here, as of another time; a running gate (--remote) decides as of now")
    settings = None if remote else _settings(
        evidence=evidence, mlflow=mlflow, opa_url=opa_url, policy_dir=policy_dir, opa_timeout=opa_timeout,
        # CI looks up many versions at once; the webhook's 1 s per call is an admission budget.
        evidence_timeout=evidence_timeout)

    files, _ = manifest_inputs(paths)
    loaded = LoadResult()
    with _Progress(len(files) >= PROGRESS_MIN_FILES) as progress:
        progress.start("reading manifests", len(files))

        def read() -> LoadResult:
            result = load_manifests(paths, on_file=lambda _: progress.advance())
            loaded.manifests, loaded.errors = result.manifests, result.errors
            return loaded

        try:
            evaluations = (_check_remote(remote, token, read().manifests, environments, progress) if remote
                           else _check_local(settings, read, environments, progress, as_of))
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
        reports.render_tables(results, Console(soft_wrap=True), verbose=verbose)
    else:
        sys.stdout.write(reports.render(output_format, results, verbose=verbose))
        sys.stdout.flush()
    for problem in problems:
        typer.echo(f"gatekeeper: {problem}", err=True)
    if loaded.errors or problems:
        raise typer.Exit(2)
    raise typer.Exit(0 if all(report.allowed for report in results.values()) else 1)


def _as_of(text: str) -> datetime:
    """`--at`: an RFC 3339 time with its offset (a time without one would depend on the machine)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"--at {text!r} is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)") from None
    if moment.utcoffset() is None:
        raise fail(f"--at {text!r} has no time zone: add Z or an offset (e.g. 2026-12-01T00:00:00Z)")
    return moment.astimezone(timezone.utc)


def _check_local(settings: Settings, read: Callable[[], LoadResult], environments: list[str],
                 progress: _Progress, as_of: datetime | None = None) -> dict[str, Evaluation]:
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
                    progress: _Progress, as_of: datetime | None) -> dict[str, Evaluation]:
    from gatekeeper.evidence.files import EvidenceRootError
    from gatekeeper.pipeline.gate import UnknownEnvironment, utc_now
    from gatekeeper.opa.server import OpaStartError
    from gatekeeper.opa.client import PolicyError
    from gatekeeper.reports.render import merge
    from gatekeeper.pipeline.assemble import open_gate

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
                    evaluation.report = merge(p.report for p in parts)
                    evaluation.problems = list(dict.fromkeys(x for p in parts for x in p.problems))
                evaluations[environment] = evaluation
            return evaluations

    try:
        return asyncio.run(run())
    except (EvidenceRootError, UnknownEnvironment, OpaStartError, PolicyError, ValueError) as exc:
        raise Fail(str(exc)) from None


def _check_remote(url: str, token: str | None, manifests: list[Manifest], environments: list[str],
                  progress: _Progress) -> dict[str, Evaluation]:
    from gatekeeper.cli.remote import RemoteError, evaluate_all

    progress.start(f"asking {url}", len(manifests) * len(environments))
    try:
        return evaluate_all(url, token, manifests, environments, on_chunk=progress.advance)
    except RemoteError as exc:
        raise Fail(str(exc)) from None


class _Progress:
    """A rich progress bar on stderr, shown only when enabled and stderr is a terminal;
    transient, so nothing of it stays on screen (and nothing at all reaches a pipe)."""

    def __init__(self, wanted: bool) -> None:
        self.enabled = wanted and sys.stderr.isatty()
        self._progress = None
        self._task = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.start()
        return self

    def start(self, description: str, total: int) -> None:
        if self._progress is not None:
            if self._task is not None:
                self._progress.remove_task(self._task)
            self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __exit__(self, *exc: object) -> None:
        self.stop()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8443,
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder (default: examples/evidence).")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="MLflow tracking URL to read evidence from.")] = None,
    opa_url: Annotated[Optional[str], typer.Option(help="OPA to ask (default: start one on loopback).")] = None,
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder for the OPA the gate starts.")] = None,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serving certificate (PEM); HTTPS when given.")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="Serving key (PEM).")] = None,
    audit_db: Annotated[Optional[str], typer.Option(help="Decision log: sqlite:///PATH or postgresql://...")] = None,
    evaluate_token: Annotated[Optional[str], typer.Option(
        envvar="GATEKEEPER_EVALUATE_TOKEN", show_envvar=True,
        help="Require this bearer token on POST /v1/evaluate (gatekeeper check --remote --token).")] = None,
    admission_token_file: Annotated[Optional[Path], typer.Option(
        help="Answer /validate only to callers sending this file's token (the API server's kubeConfigFile).")] = None,
) -> None:
    """Run the admission webhook."""
    from gatekeeper.webhook.app import run

    if bool(tls_cert) != bool(tls_key):
        raise fail("--tls-cert and --tls-key go together")
    settings = _settings(host=host, port=port, evidence=evidence, mlflow=mlflow, opa_url=opa_url,
                         policy_dir=policy_dir, tls_cert=tls_cert, tls_key=tls_key, audit_db=audit_db,
                         evaluate_token=evaluate_token, admission_token_file=admission_token_file)
    if settings.audit_db.startswith("sqlite:///") and not settings.audit_db.startswith("sqlite:////"):
        Path(settings.audit_db[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        run(settings)
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None


@app.command()
def keygen(
    out: Annotated[Path, typer.Option(help="Where to write the private key (PEM, mode 0600).")],
    name: Annotated[str, typer.Option(help="The person the key belongs to (e.g. alice@example.com).")],
    role: Annotated[list[str], typer.Option(help="Role this person may sign for; repeatable.")] = [],  # noqa: B006
) -> None:
    """Generate an Ed25519 signing key; print the signers.yaml entry for its public half."""
    import yaml

    from gatekeeper.evidence.signing.statements import generate_key

    if out.exists():
        raise fail(f"{out} exists; refusing to overwrite a private key")
    private_pem, public = generate_key()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.touch(mode=0o600)
        out.write_bytes(private_pem)
    except OSError as exc:
        raise fail(f"{out}: {exc.strerror}") from None
    entry = {"name": name, "roles": role, "keys": [public]}
    typer.echo("# add to policies/gatekeeper/signers/signers.yaml under `signers:`")
    typer.echo(yaml.safe_dump([entry], sort_keys=False).rstrip())


def _settings(**overrides: object) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    if "evidence" in values:
        values["evidence_dir"] = values.pop("evidence")
    if "mlflow" in values:
        values["mlflow_url"] = values.pop("mlflow")
    try:
        return Settings(**values)
    except ValueError as exc:
        raise fail(f"bad setting: {str(exc).splitlines()[0]}") from None


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback to a user
        typer.echo(f"gatekeeper: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(2)
