"""`gatekeeper report model NAME@VERSION`: the evidence pack an auditor asks for (README
"A model's evidence pack"). Exit 0 written; 2 could not be made (unknown model, OPA, the
log or the cluster unreachable), with one line on stderr."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from gatekeeper.cli.common import AuditDb, as_of, Evidence, Mlflow, OpaUrl, PolicyDir, api_client, fail, note_default_folders, settings

app = typer.Typer(help="Reports for auditors.", no_args_is_help=True)


class PackFormat(str, Enum):
    md = "md"
    html = "html"
    json = "json"


@app.command("model")
def model(
    label: Annotated[str, typer.Argument(metavar="NAME@VERSION", help="The model version, e.g. credit-scoring@3.")],
    fmt: Annotated[PackFormat, typer.Option("--format", help="md, html (one self-contained file) or json.")] = PackFormat.md,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    audit_db: AuditDb = None,
    kubeconfig: Annotated[Optional[Path], typer.Option(
        help="Also say where the version runs now (the background auditor's reports in this cluster).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the pack here (default: stdout).")] = None,
    environment: Annotated[str, typer.Option(
        "--environment", "-e", help="Whose requirements (thresholds) to show: the matrix's overrides differ per environment.")] = "production",
    at: Annotated[Optional[str], typer.Option(
        "--at", help="The moment the pack is as of (RFC 3339 with a zone; default now): expiries are judged at it.")] = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
) -> None:
    """Write the evidence pack of NAME@VERSION: model card, lineage, data quality, fairness per
    attribute with the thresholds of its class, drift, explainability, PII scan, sign-offs
    (verified against which key), waivers, every decision the log holds about it with its
    inclusion proof, where it runs (with --kubeconfig) and the regulation coverage. The same
    inputs give the same bytes; the pack's sha256 is its last line."""
    from gatekeeper.audit import AuditStoreError, open_store
    from gatekeeper.opa.client import PolicyEngine, PolicyError
    from gatekeeper.opa.server import OpaServer, OpaStartError
    from gatekeeper.pipeline.assemble import evidence_source
    from gatekeeper.pipeline.evidence_pack import PackError, PackRequest, gather
    from gatekeeper.reports.evidence_pack import render
    from gatekeeper.types.names import model_ref_problem

    name, _, version = label.partition("@")
    problem = model_ref_problem(name, version, None) if name and version else "expected NAME@VERSION, e.g. credit-scoring@3"
    if problem:
        raise fail(f"{label}: {problem}")
    if evidence and mlflow:
        raise fail("--evidence and --mlflow are alternatives; give one")
    now = as_of(at)
    run = settings({"opa_timeout": 60.0, "evidence_timeout": 10.0}, policy_dir=policy_dir, evidence_dir=evidence,
                   mlflow_url=mlflow, opa_url=opa_url, audit_db=audit_db)
    note_default_folders(run, policies=not run.opa_url, evidence=True)
    placements = _placements(kubeconfig, run) if kubeconfig else None

    async def make() -> dict[str, Any]:
        async with AsyncExitStack() as stack:
            source = evidence_source(run)
            stack.push_async_callback(source.close)
            url = run.opa_url
            if not url:
                server = OpaServer(run.policy_dir)
                url = server.start()
                stack.callback(server.stop)
            engine = PolicyEngine(url, timeout=run.opa_timeout)
            stack.push_async_callback(engine.close)
            store = await open_store(run.audit_db, create=False) if audit_db or _log_exists(run.audit_db) else None
            if store is not None:
                stack.push_async_callback(store.close)
            request = PackRequest(name=name, version=version, environment=environment, now=now)
            return await gather(request, engine, source, store, placements)

    try:
        pack = asyncio.run(make())
    except (PackError, PolicyError, OpaStartError, AuditStoreError, ValueError) as exc:
        raise fail(str(exc)) from None
    data = render(pack, fmt.value)
    if output is None:
        typer.echo(data.decode(), nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise fail(f"--output {output}: {exc.strerror}") from None
    typer.echo(f"wrote {output}", err=True)


def _log_exists(url: str) -> bool:
    """The default log (`serve`'s) counts only when it is there: without one, the pack says
    no log was asked rather than failing on a machine that never ran the gate."""
    from gatekeeper.config import Settings

    if url != Settings().audit_db or not url.startswith("sqlite:///"):
        return True
    return Path(url[len("sqlite:///"):].partition("?")[0]).is_file()


def _placements(kubeconfig: Path, run: Any) -> list[dict[str, Any]]:
    """The inventory rows (the background auditor's reports) of the cluster; exit 2 when it cannot be read."""
    from gatekeeper.auditor.client import Cluster, ClusterError
    from gatekeeper.auditor.inventory import as_json, read

    api = api_client(kubeconfig, run)
    try:
        return as_json(asyncio.run(read(Cluster(api))))
    except ClusterError as exc:
        raise fail(f"cannot read the PolicyReports: {exc}") from None
    finally:
        api.close()
