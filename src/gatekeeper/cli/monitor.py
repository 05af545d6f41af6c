"""`gatekeeper monitor`: the background auditor (auditor/), its own process and Deployment.

It lists the gated kinds once and then watches them (auditor/watch.py): a change is judged
within a moment, and `--interval` bounds how late an expiry or republished evidence is
noticed. Its own Deployment rather than a task inside `serve`: the webhook's replicas stay
stateless and keep their CPU for admission, the auditor gets its own RBAC (list/watch of
the gated kinds, PolicyReports, Events, its Lease) that the webhook does not need, and a
crash of one cannot take the other down. Several replicas may run; one audits at a time
(the Lease).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Optional

import typer

from gatekeeper.cli.common import AuditDb, Evidence, Mlflow, OpaUrl, PolicyDir, api_client, fail, note_default_folders, settings


def monitor(
    kubeconfig: Annotated[Optional[Path], typer.Option(
        help="Kubeconfig to reach the cluster (default: KUBECONFIG, else the in-cluster configuration).")] = None,
    interval: Annotated[float, typer.Option(
        min=0.1, help="Most seconds between cycles (a watched change starts one at once).")] = 10.0,
    resync: Annotated[float, typer.Option(min=1.0, help="Seconds after which every workload is re-judged.")] = 600.0,
    metrics_port: Annotated[int, typer.Option(help="Port of GET /metrics (0: none).")] = 9090,
    nice: Annotated[int, typer.Option(
        min=0, max=19, help="Niceness added to the auditor and the OPA it starts, so admission on the same "
                            "cores comes first (0: unchanged).")] = 10,
    lease_namespace: Annotated[Optional[str], typer.Option(
        envvar="POD_NAMESPACE",
        help="Namespace of the Lease electing the one active replica (default: POD_NAMESPACE; none: no election).")] = None,
    evidence: Evidence = None,
    mlflow: Mlflow = None,
    opa_url: OpaUrl = None,
    policy_dir: PolicyDir = None,
    audit_db: AuditDb = None,
) -> None:
    """Re-judge running model workloads; publish PolicyReports, Events and gauges."""
    run = settings(evidence_dir=evidence, mlflow_url=mlflow, opa_url=opa_url, policy_dir=policy_dir, audit_db=audit_db)
    api = api_client(kubeconfig, run)
    note_default_folders(run, policies=not run.opa_url, evidence=True)  # once the cluster is known
    if metrics_port:
        from prometheus_client import start_http_server

        try:
            start_http_server(metrics_port)
        except OSError as exc:
            raise fail(f"--metrics-port {metrics_port}: {exc}") from None
    from gatekeeper.auditor.monitor import yield_cpu

    yield_cpu(nice)  # before its OPA starts, which inherits it
    asyncio.run(_monitor(run, api, timedelta(seconds=interval), timedelta(seconds=resync), lease_namespace))


async def _monitor(run, api, interval: timedelta, resync: timedelta, lease_namespace: str | None) -> None:  # type: ignore[no-untyped-def]
    from gatekeeper.audit import open_store
    from gatekeeper.auditor.client import Cluster, Leases
    from gatekeeper.auditor.lease import Elector
    from gatekeeper.auditor.monitor import run as run_loop
    from gatekeeper.auditor.rejudge import Auditor
    from gatekeeper.opa.server import SERVING_OPA_PROCESSORS
    from gatekeeper.pipeline.assemble import open_gate

    cluster = Cluster(api)
    elector = Elector(Leases(cluster), lease_namespace, socket.gethostname()) if lease_namespace else None
    try:
        # its own OPA (no --opa-url) gets one processor, as the deployed sidecar's 500m limit
        # allows: a resync then leaves the other cores to admission on a shared machine
        async with await open_store(run.audit_db) as audit, open_gate(run, opa_processors=SERVING_OPA_PROCESSORS) as gate:
            await run_loop(Auditor(gate, cluster, audit=audit, resync=resync, elector=elector), interval=interval)
    finally:
        cluster.close()
