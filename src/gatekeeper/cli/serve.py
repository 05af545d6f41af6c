"""`gatekeeper serve`: run the admission webhook (webhook.app) under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from gatekeeper.cli.common import AuditDb, Evidence, Mlflow, OpaUrl, PolicyDir, fail, note_default_folders, settings


def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on (default: GATEKEEPER_HOST, else 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: GATEKEEPER_PORT, else 8443).")] = None,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
    tls_cert: Annotated[Optional[Path], typer.Option(help="Serving certificate (PEM); HTTPS when given (default: GATEKEEPER_TLS_CERT).")] = None,
    tls_key: Annotated[Optional[Path], typer.Option(help="Serving key (PEM) (default: GATEKEEPER_TLS_KEY).")] = None,
    audit_db: AuditDb = None,
    evaluate_token: Annotated[Optional[str], typer.Option(
        envvar="GATEKEEPER_EVALUATE_TOKEN", show_envvar=True,
        help="Require this bearer token on POST /v1/evaluate (gatekeeper check --remote --token).")] = None,
    admission_token_file: Annotated[Optional[Path], typer.Option(
        help="Answer /validate only to callers sending this file's token (the API server's kubeConfigFile; "
             "default: GATEKEEPER_ADMISSION_TOKEN_FILE).")] = None,
) -> None:
    """Run the admission webhook."""
    from gatekeeper.webhook.app import run as run_webhook

    run = settings(host=host, port=port, evidence_dir=evidence, mlflow_url=mlflow, opa_url=opa_url,
                   policy_dir=policy_dir, tls_cert=tls_cert, tls_key=tls_key, audit_db=audit_db,
                   evaluate_token=evaluate_token, admission_token_file=admission_token_file)
    if bool(run.tls_cert) != bool(run.tls_key):
        raise fail("--tls-cert and --tls-key go together")
    note_default_folders(run, policies=not run.opa_url, evidence=True)
    if run.audit_db.startswith("sqlite:///") and not run.audit_db.startswith("sqlite:////"):
        Path(run.audit_db[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        run_webhook(run)
    except (OSError, ValueError) as exc:
        raise fail(str(exc)) from None
