"""`gatekeeper`: the CLI front door. Same core as the webhook (gate.Gate.evaluate).

Exit codes (DESIGN §7): 0 all admitted, 1 something denied, 2 could not evaluate, with a
one-line reason on stderr. No traceback ever reaches a user.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from . import signing_cli
from .audit import cli as audit_cli
from .config import Settings

app = typer.Typer(
    help="Model Gatekeeper: policy-as-code admission gate for ML model deployments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
policy_app = typer.Typer(help="Work on the policy library.", no_args_is_help=True)
app.add_typer(signing_cli.app, name="signoff")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(policy_app, name="policy")

FORMATS = ("table", "json")


class Fail(Exception):
    """A one-line reason and an exit code (2: could not evaluate / bad input)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"gatekeeper: {message}", err=True)
    return typer.Exit(code)


@app.command()
def check(
    paths: Annotated[list[str], typer.Argument(help="Manifest files or folders; '-' reads stdin.")],
    environment: Annotated[str, typer.Option("--environment", "-e", help="Environment to evaluate for.")] = "production",
    evidence: Annotated[Optional[Path], typer.Option(help="Evidence folder (<root>/<model>/<version>/evidence.yaml).")] = None,
    mlflow: Annotated[Optional[str], typer.Option(help="MLflow tracking URL to read evidence from.")] = None,
    opa_url: Annotated[Optional[str], typer.Option(help="Use a running OPA instead of starting one.")] = None,
    policy_dir: Annotated[Optional[Path], typer.Option(help="Policy folder for the OPA the CLI starts.")] = None,
    opa_timeout: Annotated[float, typer.Option(help="Seconds to wait for one OPA query.")] = 60.0,
    output_format: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    output: Annotated[Optional[Path], typer.Option(help="Also write the report to this file.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List objects skipped as not model-serving.")] = False,
) -> None:
    """Dry-run an admission: would these manifests be admitted in ENVIRONMENT?"""
    from . import reports
    from .evidence.files import EvidenceRootError
    from .gate import UnknownEnvironment
    from .manifests import load_manifests
    from .opa import OpaStartError
    from .policy import PolicyError
    from .runtime import open_gate

    if output_format not in FORMATS:
        raise fail(f"unknown format '{output_format}' (choose one of: {', '.join(FORMATS)})")
    # A CI run evaluates many objects per OPA query; the webhook's 2 s budget is not its limit.
    settings = _settings(evidence=evidence, mlflow=mlflow, opa_url=opa_url, policy_dir=policy_dir, opa_timeout=opa_timeout)
    loaded = load_manifests(paths)
    for error in loaded.errors:
        typer.echo(f"gatekeeper: {error}", err=True)

    async def run():
        async with open_gate(settings) as gate:
            return await gate.evaluate(loaded.manifests, environment)

    try:
        evaluation = asyncio.run(run())
    except (EvidenceRootError, UnknownEnvironment, OpaStartError, PolicyError, ValueError) as exc:
        raise fail(str(exc)) from None
    report = evaluation.report
    rendered = reports.render_json(report) if output_format == "json" else None
    if rendered is not None:
        typer.echo(rendered)
    else:
        reports.render_table(report, Console(soft_wrap=True), verbose=verbose)
    if output:
        output.write_text(rendered if rendered is not None else reports.render_json(report))
    for problem in evaluation.problems:
        typer.echo(f"gatekeeper: {problem}", err=True)
    if loaded.errors or evaluation.problems:
        raise typer.Exit(2)
    raise typer.Exit(0 if report.allowed else 1)


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
) -> None:
    """Run the admission webhook."""
    import uvicorn

    from .webhook import create_app

    if bool(tls_cert) != bool(tls_key):
        raise fail("--tls-cert and --tls-key go together")
    settings = _settings(host=host, port=port, evidence=evidence, mlflow=mlflow, opa_url=opa_url,
                         policy_dir=policy_dir, tls_cert=tls_cert, tls_key=tls_key, audit_db=audit_db)
    if settings.audit_db.startswith("sqlite:///") and not settings.audit_db.startswith("sqlite:////"):
        Path(settings.audit_db[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        uvicorn.run(
            create_app(settings), host=settings.host, port=settings.port, log_level="warning", access_log=False,
            ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
            ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        )
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

    from .evidence.signatures import generate_key

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
