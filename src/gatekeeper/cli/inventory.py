"""`gatekeeper inventory`: what runs where, compliant or not (from the auditor's reports)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from gatekeeper.cli.common import api_client, fail, settings


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


COLUMNS = ("namespace", "kind", "name", "environment", "models", "risk_class", "compliant", "violations",
           "earliest_expiry", "error")


def inventory(
    kubeconfig: Annotated[Optional[Path], typer.Option(
        help="Kubeconfig to reach the cluster (default: KUBECONFIG, else the in-cluster configuration).")] = None,
    fmt: Annotated[Format, typer.Option("--format")] = Format.table,
    namespace: Annotated[Optional[str], typer.Option("--namespace", "-n", help="Only this namespace's workloads.")] = None,
) -> None:
    """List the model workloads the background auditor judges: model@version, risk class,
    environment, compliant, open violations, earliest expiry (the serving gate's
    GET /v1/inventory gives the same rows)."""
    from gatekeeper.auditor.client import Cluster, ClusterError
    from gatekeeper.auditor.inventory import as_json, read
    api = api_client(kubeconfig, settings())
    try:
        rows = asyncio.run(read(Cluster(api), namespace))
    except ClusterError as exc:
        raise fail(f"cannot read the PolicyReports: {exc}") from None
    finally:
        api.close()
    if fmt is Format.json:
        typer.echo(json.dumps(as_json(rows), indent=2))
        return
    table = [[_cell(getattr(r, c)) for c in COLUMNS] for r in rows]
    if fmt is Format.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(table)
        typer.echo(out.getvalue(), nl=False)
        return
    from rich.console import Console
    from rich.table import Table

    view = Table(box=None)
    for column in COLUMNS:
        view.add_column(column.replace("_", " "))
    for cells in table:
        view.add_row(*cells)
    console = Console()
    if not console.is_terminal:
        console.width = 240  # piped: keep rows whole
    console.print(view)


def _cell(value: object) -> str:
    return " ".join(value) if isinstance(value, list) else str(value)

