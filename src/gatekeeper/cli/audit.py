"""`gatekeeper audit list|verify|export|prove|verify-proof|prune|replay`: read and check the decision log (README "The CLI" and "The webhook").

Exit codes, like `gatekeeper check`: 0 fine, 1 the log is not intact, 2 could not read it
(bad input, unreachable or missing store) with one line on stderr, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime, timedelta, timezone
from enum import Enum
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from gatekeeper.audit import ocsf
from gatekeeper.audit.chain import VerifyResult, record_of
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.note import Checkpoint, Note, NoteError, Verifier
from gatekeeper.audit.proofs import InvalidProof, open_checkpoint, verify_proof
from gatekeeper.audit.record import AuditRecord
from gatekeeper.audit.store import AuditStore, open_store
from gatekeeper.cli.common import AuditDb, fail, note, period_start, settings
from gatekeeper.opa.client import PolicyError
from gatekeeper.pipeline.replay import Replayed, Replayer, Tampered

T = TypeVar("T")

app = typer.Typer(help="Read and verify the hash-chained decision log.", no_args_is_help=True)


class SourceChoice(str, Enum):
    """The front doors that write the log. `gatekeeper check` records nothing (its report is
    CI's record); `check --remote` goes through POST /v1/evaluate and is recorded as `api`."""
    webhook = "webhook"
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
    source: Optional[SourceChoice] = typer.Option(None, "--source", help="Which front door decided (check --remote is api; a local check records nothing)."),
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


def _verifier(vkey: str, flag: str) -> Verifier:
    """A verifier key given on the command line, or the path of a file holding one."""
    text = vkey
    if "+" not in vkey:
        try:
            text = Path(vkey).read_text()
        except OSError as exc:
            raise fail(f"{flag} {vkey}: {exc.strerror}") from None
    try:
        return Verifier.parse(text)
    except NoteError as exc:
        raise fail(f"{flag}: {exc}") from None


def _read(path: Path, flag: str) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{flag} {path}: {getattr(exc, 'strerror', None) or exc}") from None


LogKey = Annotated[Optional[str], typer.Option(
    "--log-key", help="The log's verifier key (NAME+ID+KEY, or a file holding it): also check every "
                      "stored checkpoint is signed by it.")]


@app.command("verify")
def verify(
    audit_db: AuditDb = None,
    log_key: LogKey = None,
    since: Optional[Path] = typer.Option(None, "--since", help="An older signed checkpoint (a file): also check "
                                         "the log is an append-only extension of it."),
) -> None:
    """Check the log: every record unchanged, none removed or reordered, the Merkle tree and
    every signed checkpoint match the records."""
    key = _verifier(log_key, "--log-key") if log_key else None
    older = None
    if since is not None:
        text = _read(since, "--since")
        try:
            if key is not None:
                older = open_checkpoint(text, key)[1]
            else:
                older = Checkpoint.parse(Note.parse(text).text)
        except (NoteError, InvalidProof) as exc:
            raise fail(f"--since {since}: {exc}") from None

    async def check(store: AuditStore) -> tuple[VerifyResult, str | None]:
        result = await store.verify(key)
        if not result.ok or older is None:
            return result, None
        try:
            newest = await store.extends(older)
        except InvalidProof as exc:
            return result.model_copy(update={"ok": False, "reason": str(exc)}), None
        return result, f"it extends the checkpoint of size {older.size} (newest checkpoint: size {newest.size})"

    result, extension = _on_store(audit_db, check)
    if result.ok:
        typer.echo(f"audit log intact: {result.count} records" + (f"; {extension}" if extension else ""))
        return
    # The reason names the record ("record 7 was changed: ...").
    typer.echo(f"audit log NOT intact: {result.reason}")
    raise typer.Exit(1)


@app.command("prove")
def prove(
    decision_id: str = typer.Argument(..., help="The decision's ID (audit list --format json shows them)."),
    audit_db: AuditDb = None,
    out: Optional[Path] = typer.Option(None, "--out", help="Write the proof here (default: stdout)."),
) -> None:
    """Write a self-contained proof that a decision is in the log: the record, its leaf index,
    the inclusion proof and the newest signed checkpoint with its cosignatures."""
    doc = _on_store(audit_db, lambda store: store.prove(decision_id))
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as exc:
        raise fail(f"--out {out}: {exc.strerror}") from None


@app.command("verify-proof")
def verify_proof_file(
    proof: Path = typer.Argument(..., help="A file written by `gatekeeper audit prove`."),
    log_key: str = typer.Option(..., "--log-key", help="The log's verifier key (NAME+ID+KEY, or a file holding it)."),
    witness_key: list[str] = typer.Option([], "--witness-key", help="A witness's verifier key; repeatable."),  # noqa: B008
    min_witnesses: int = typer.Option(0, "--min-witnesses", min=0, help="How many of the witnesses must have cosigned."),
) -> None:
    """Check a proof file offline (no database, no network): exit 0 valid, 1 invalid."""
    key = _verifier(log_key, "--log-key")
    witnesses = [_verifier(w, "--witness-key") for w in witness_key]
    if min_witnesses > len(witnesses):
        raise fail(f"--min-witnesses {min_witnesses} but only {len(witnesses)} --witness-key given")
    try:
        verified = verify_proof(_read(proof, "PROOF"), key, witnesses, min_witnesses)
    except InvalidProof as exc:
        typer.echo(f"proof NOT valid: {exc}")
        raise typer.Exit(1) from None
    cosigned = f"; cosigned by {', '.join(verified.witnesses)}" if verified.witnesses else ""
    typer.echo(f"proof valid: decision {verified.decision_id} is record {verified.leaf_index + 1} of "
               f"{verified.checkpoint.origin}, in its signed checkpoint of size {verified.checkpoint.size}{cosigned}")


@app.command("prune")
def prune(
    before: str = typer.Option(..., "--before", help="Remove the bodies of records older than this ISO-8601 date."),
    audit_db: AuditDb = None,
    min_retention: int = typer.Option(183, "--min-retention", min=0, help="Days every record is kept at least."),
) -> None:
    """Remove old record bodies, keeping the tree's hashes: checkpoints and the proofs of kept
    records stay valid; a pruned record reads as pruned."""
    cutoff = _iso(before, "--before")
    assert cutoff is not None
    now = datetime.now(timezone.utc)
    count = _on_store(audit_db, lambda store: store.prune(cutoff, now, timedelta(days=min_retention)))
    typer.echo(f"pruned {count} records older than {before}")


# Records replayed per page of a range: bounds memory; OPAs are kept across pages.
REPLAY_PAGE = 1000


@app.command("replay")
def replay(
    decision_id: Optional[str] = typer.Argument(None, help="The decision's ID (audit list --format json shows them)."),
    audit_db: AuditDb = None,
    policy_dir: Optional[Path] = typer.Option(
        None, "--policy-dir", help="Replay on these policies instead of the decision's stored bundle: what would they say?"),
    since: Optional[str] = typer.Option(None, "--since", help="Replay every decision since: 30d, 12h, or an ISO-8601 time."),
) -> None:
    """Evaluate a decision's stored OPA input on its stored policy bundle (or --policy-dir) and
    compare with what was recorded: exit 0 identical, 1 different (printed), 2 cannot replay."""
    if (decision_id is None) == (since is None):
        raise fail("give a DECISION_ID or --since (a range), not both")
    if policy_dir is not None and not (policy_dir / "gatekeeper").is_dir():
        raise fail(f"--policy-dir {policy_dir}: not a policy folder (no gatekeeper/ in it)")
    start = period_start(since, datetime.now(timezone.utc)) if since is not None else None
    on = f"on {policy_dir}" if policy_dir is not None else "on its stored policy bundle"

    async def one(store: AuditStore) -> Replayed:
        row = await store.find(decision_id)  # type: ignore[arg-type]
        if row is None:
            raise AuditStoreError(store.url, f"no decision {decision_id} in the log")
        async with Replayer(store, policy_dir=policy_dir, note=note) as replayer:
            return (await replayer.replay([record_of(row)]))[0]

    async def every(store: AuditStore) -> list[Replayed]:
        results: list[Replayed] = []
        page: list[AuditRecord] = []
        async with Replayer(store, policy_dir=policy_dir, note=note) as replayer:
            async for row in store.rows(start):
                page.append(record_of(row))
                if len(page) == REPLAY_PAGE:
                    results.extend(_report_range(await replayer.replay(page)))
                    page = []
            results.extend(_report_range(await replayer.replay(page)))
        return results

    try:
        if since is None:
            done = _on_store(audit_db, one)
        else:
            results = _on_store(audit_db, every)
    except (Tampered, PolicyError) as exc:
        raise fail(str(exc)) from None
    if since is not None:
        counts = {status: sum(1 for r in results if r.status == status) for status in ("identical", "differs", "unreplayable")}
        why = sorted({r.lines[0] for r in results if r.status == "unreplayable"})
        typer.echo(f"replayed {len(results)} decisions since {start.isoformat(timespec='seconds')} "  # type: ignore[union-attr]
                   f"{on.replace('its', 'their').replace('bundle', 'bundles')}: {counts['identical']} identical, "
                   f"{counts['differs']} differ, {counts['unreplayable']} cannot be replayed"
                   + (f" ({'; '.join(why)})" if why else ""))
        raise typer.Exit(1 if counts["differs"] else 0)
    where = f"decision {done.record.decision_id} (record {done.record.seq}, policy revision {done.record.policy_revision})"
    if done.status == "unreplayable":
        raise fail(f"{where} cannot be replayed: {done.lines[0]}")
    if done.status == "identical":
        typer.echo(f"identical: {where} replayed {on} gives the recorded decision")
        return
    typer.echo(f"differs: {where} replayed {on}:")
    for line in done.lines:
        typer.echo(f"  {line}")
    raise typer.Exit(1)


def _report_range(results: list[Replayed]) -> list[Replayed]:
    """Print each decision of a range that replays differently, as it is found."""
    for r in results:
        if r.status == "differs":
            typer.echo(f"differs: decision {r.record.decision_id} (record {r.record.seq}, {r.record.time.isoformat()}, "
                       f"{r.record.object.display()}): {'; '.join(r.lines)}")
    return results


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    ocsf = "ocsf"


@app.command("export")
def export(
    audit_db: AuditDb = None,
    since: Optional[str] = typer.Option(None, "--since", help="ISO-8601, inclusive (naive = UTC)."),
    until: Optional[str] = typer.Option(None, "--until", help="ISO-8601, exclusive (naive = UTC)."),
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format",
                                     help="jsonl: the stored records; ocsf: OCSF API Activity (6003) events."),
) -> None:
    """Stream records in log order, one JSON object per line, in bounded memory.

    jsonl: line i of an unpruned log's full export is exactly leaf i of its Merkle tree."""
    since_t, until_t = _iso(since, "--since"), _iso(until, "--until")

    async def stream(store: AuditStore) -> None:
        write = sys.stdout.write
        async for row in store.rows(since_t, until_t):
            if row.pruned:
                write(json.dumps({"seq": row.seq, "decision_id": row.decision_id, "pruned": True}) + "\n")
            elif fmt is ExportFormat.jsonl:
                write(row.body + "\n")
            else:
                write(json.dumps(ocsf.event(json.loads(row.body)), separators=(",", ":")) + "\n")

    try:
        _on_store(audit_db, stream)
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        sys.stderr.close()


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
