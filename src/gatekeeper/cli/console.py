"""`gatekeeper console`: the read-only web console (console.app) under uvicorn.

It reads what `serve` reads (the evidence source, the decision log, the policies on the
embedded OPA or --opa-url) and the cluster's inventory: the console may not import the
auditor (sibling front doors), so the reader of the auditor's reports is built here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from gatekeeper.cli.common import AuditDb, Evidence, Mlflow, OpaUrl, PolicyDir, api_client, fail, note, note_default_folders, settings

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

    from gatekeeper.console.sources import InventoryReader

DEFAULT_PORT = 8444
TOKEN_ENV = "GATEKEEPER_CONSOLE_TOKEN"
MIN_TOKEN_LENGTH = 16


def console(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = DEFAULT_PORT,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
    audit_db: AuditDb = None,
    kubeconfig: Annotated[Optional[Path], typer.Option(
        help="Kubeconfig to read the auditor's reports with (default: KUBECONFIG, else in a cluster the pod's "
             "service account, else none: the workload pages say no cluster is configured).")] = None,
    token_file: Annotated[Optional[Path], typer.Option(
        help=f"File holding the console's access token (default: the {TOKEN_ENV} variable).")] = None,
    trusted_user_header: Annotated[Optional[str], typer.Option(
        help="Take the reader's name from this header (e.g. X-Forwarded-User), set by an authenticating proxy; "
             "honoured only from --trusted-proxy addresses.")] = None,
    trusted_proxy: Annotated[Optional[list[str]], typer.Option(
        help="Address or CIDR of the authenticating proxy (repeatable); required with --trusted-user-header.")] = None,
) -> None:
    """Serve the read-only web console: overview, models, workloads, decisions, policy."""
    from gatekeeper.console.auth import Access, proxy_networks

    run = settings(evidence_dir=evidence, mlflow_url=mlflow, opa_url=opa_url, policy_dir=policy_dir, audit_db=audit_db)
    token = _token(token_file)
    if trusted_user_header and not trusted_proxy:
        raise fail("--trusted-user-header needs --trusted-proxy: the header is believed only from the proxy's addresses")
    if trusted_proxy and not trusted_user_header:
        raise fail("--trusted-proxy needs --trusted-user-header (the header the proxy sets)")
    if not token and not trusted_user_header:
        raise fail(f"no access configured: set {TOKEN_ENV}, or give --token-file, or --trusted-user-header with "
                   "--trusted-proxy (the console never serves without sign-in)")
    try:
        access = Access(token=token, trusted_user_header=trusted_user_header.lower() if trusted_user_header else None,
                        trusted_proxies=proxy_networks(trusted_proxy or []))
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        api = api_client(kubeconfig, run, outside_a_cluster_ok=True)
    except (OSError, ValueError) as exc:
        raise fail(f"cannot reach the Kubernetes API: {exc}") from None
    if api is None:
        note("no cluster configured (--kubeconfig, KUBECONFIG): the console shows the log, evidence and policy only")
    note_default_folders(run, policies=not run.opa_url, evidence=True)
    from gatekeeper.cli.serve import inventory_reader
    from gatekeeper.console.sources import InventoryUnavailable

    _serve(run, access, inventory_reader(api, InventoryUnavailable), host, port)


def _token(path: Path | None) -> str | None:
    if path is not None:
        try:
            token = path.read_text().strip()
        except OSError as exc:
            raise fail(f"--token-file {path}: {exc.strerror or exc}") from None
        source = f"--token-file {path}"
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
        source = TOKEN_ENV
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise fail(f"{source}: the token is shorter than {MIN_TOKEN_LENGTH} characters (e.g. `openssl rand -hex 24`)")
    return token or None


def _serve(run: Any, access: Any, inventory: InventoryReader | None, host: str, port: int) -> None:
    import uvicorn

    from gatekeeper.console.app import create_app

    app = create_app(run, access, inventory=inventory)
    note(f"starting the console on http://{host}:{port}/")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
    except SystemExit:
        if app.state.startup_failure:
            raise fail(app.state.startup_failure) from None
        raise
