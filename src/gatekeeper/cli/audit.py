"""`gatekeeper audit list|verify`: read and check the decision log (README "The CLI" and "The webhook").

Exit codes, like `gatekeeper check`: 0 fine, 1 the log is not intact, 2 could not read it
(bad input, unreachable or missing store) with one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from enum import Enum
from collections.abc import Awaitable, Callable
from typing import Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.record import AuditRecord
from gatekeeper.audit.store import AuditStore, open_store
from gatekeeper.cli.common import AuditDb, fail, settings

T = TypeVar("T")

app = typer.Typer(help="Read and verify the hash-chained decision log.", no_args_is_help=True)


class SourceChoice(str, Enum):
    webhook = "webhook"
    cli = "cli"
    api = "api"
    background = "background"


class OutcomeChoice(str, Enum):
    admitted = "admitted"
    denied = "denied"
    warned = "warned"
    error = "error"


class Format(str, Enum):
    table = "table"
    json = "json"


def _iso(value: Optional[str], flag: str) -> Optional[datetime]:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=flag) from None


@app.command("list")
def list_records(
    audit_db: AuditDb = None,
    model: Optional[str] = typer.Option(None, "--model", help="Model name or name@version."),
    outcome: Optional[OutcomeChoice] = typer.Option(None, "--outcome"),
    source: Optional[SourceChoice] = typer.Option(None, "--source", help="Which front door decided."),
    since: Optional[str] = typer.Option(None, "--since", help="ISO-8601, inclusive (naive = UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="ISO-8601, exclusive (naive = UTC)."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many, newest first."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """List decisions, newest first."""
    since_t, until_t = _iso(since, "--since"), _iso(until, "--until")

    records = _on_store(audit_db, lambda store: store.list(
        model=model, outcome=outcome.value if outcome else None, since=since_t, until=until_t, limit=limit,
        source=source.value if source else None))
    if fmt is Format.json:
        typer.echo(json.dumps([r.model_dump(mode="json", by_alias=True) for r in records], indent=2))
    else:
        console = Console()
        if not console.is_terminal:
            console.width = 200  # piped: keep rows whole rather than cut to 80 columns
        console.print(_table(records))


def _on_store(audit_db: str | None, use: Callable[[AuditStore], Awaitable[T]]) -> T:
    """Open an existing log (never create one: a typo must not read as an empty log), use it, close it.
    AUDIT_DB None: the log `serve` writes (GATEKEEPER_AUDIT_DB, else its default)."""
    url = settings(audit_db=audit_db).audit_db

    async def run() -> T:
        store = await open_store(url, create=False)
        try:
            return await use(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except AuditStoreError as exc:
        raise fail(str(exc)) from None


@app.command("verify")
def verify(audit_db: AuditDb = None) -> None:
    """Check the hash chain: every record unchanged, none removed, none reordered."""

    result = _on_store(audit_db, lambda store: store.verify())
    if result.ok:
        typer.echo(f"audit log intact: {result.count} records")
        return
    # The reason names the record ("record 7 was changed: ...").
    typer.echo(f"audit log NOT intact: {result.reason}")
    raise typer.Exit(1)


def _table(records: list[AuditRecord]) -> Table:
    table = Table(box=None, header_style="bold")
    for column in ("seq", "time (UTC)", "outcome", "object", "environment", "models", "violations", "source"):
        table.add_column(column, no_wrap=column != "models")
    style = {"admitted": "green", "warned": "yellow", "denied": "red", "error": "magenta"}
    for r in records:
        table.add_row(
            str(r.seq),
            r.time.strftime("%Y-%m-%d %H:%M:%S"),
            f"[{style[r.outcome]}]{r.outcome}[/]",
            escape(r.object.display()),  # names are user data, not rich markup
            escape(r.environment),
            escape(", ".join(f"{m.name}@{m.version}" if m.version else m.name for m in r.models)),
            str(len(r.violations)),
            r.source + (" (dry-run)" if r.dry_run else ""),
        )
    return table
