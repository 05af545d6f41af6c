"""SQLite audit store: the embedded default, one file, one writer thread.

Durability: WAL with synchronous=FULL, so every COMMIT fsyncs the WAL before the webhook
answers. That costs one fsync per *batch* (group commit), not per record. NORMAL would
only sync at checkpoints and could lose the last acknowledged decisions on power loss,
which an audit trail must not.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from gatekeeper.audit.chain import ChainVerifier, Row, VerifyResult, link
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.filters import ListFilter, as_utc
from gatekeeper.audit.record import GENESIS_HASH

# Fixed width, so that text order is time order and range filters can use the index.
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
BUSY_TIMEOUT_S = 5.0
VERIFY_PAGE = 1000

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    decision_id TEXT NOT NULL,
    time TEXT NOT NULL,
    outcome TEXT NOT NULL,
    models TEXT NOT NULL,      -- JSON array of model names and name@version, for --model
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    body TEXT NOT NULL         -- the exact canonical JSON that `hash` is over
);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome);
CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT OR IGNORE INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}');
-- Written (and committed) by the readiness check: only a committed write reaches the WAL.
CREATE TABLE IF NOT EXISTS audit_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at TEXT NOT NULL
);
"""

COLUMNS = "seq, decision_id, time, outcome, models, prev_hash, hash, body"
INSERT = f"INSERT INTO audit_records ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


class SqliteBackend:
    def __init__(self, name: str, path: str, mode: str) -> None:
        self.name = name
        self._path = path
        self._mode = mode
        # One thread owns the writing connection: SQLite has one writer anyway, and a
        # whole batch then costs one hop from the event loop instead of one per statement.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        self._con: sqlite3.Connection | None = None

    @classmethod
    async def open(cls, name: str, path: str, *, create: bool, read_only: bool) -> SqliteBackend:
        if not create and not os.path.exists(path):
            raise AuditStoreError(name, "no audit log there (file does not exist)")
        mode = "ro" if read_only else ("rwc" if create else "rw")
        backend = cls(name, path, mode)
        try:
            await backend._in_writer(backend._open_sync, create and not read_only)
        except BaseException:
            await backend.close()
            raise
        return backend

    async def write(self, contents: list[dict[str, Any]]) -> list[Row]:
        return await self._in_writer(self._write_sync, contents)

    async def check_writable(self) -> None:
        await self._in_writer(self._check_writable_sync)

    async def read(self, query: ListFilter) -> list[Row]:
        return await asyncio.to_thread(self._read_sync, query)

    async def verify(self) -> VerifyResult:
        return await asyncio.to_thread(self._verify_sync)

    async def close(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            await self._in_writer(con.close)
        self._writer.shutdown(wait=True)

    async def _in_writer(self, fn, *args):  # type: ignore[no-untyped-def]
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, *args)

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{quote(os.path.abspath(self._path))}?mode={self._mode}"
        # isolation_level=None: transactions are begun and ended explicitly below.
        con = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        return con

    def _open_sync(self, create_schema: bool) -> None:
        if create_schema:
            os.makedirs(os.path.dirname(os.path.abspath(self._path)), exist_ok=True)
        con = self._connect()
        try:
            # DDL only when the log is new: an existing log on a read-only file must still
            # open, so that reads work and check_writable can say what is wrong.
            if create_schema and not _has_schema(con):
                con.execute("PRAGMA journal_mode = WAL")  # persistent: set once, in the file
                con.executescript(SCHEMA)
            con.execute("PRAGMA synchronous = FULL")  # per connection
            if not _has_schema(con):
                raise AuditStoreError(self.name, "not an audit log (no audit_head table)")
        except BaseException:
            con.close()
            raise
        self._con = con

    def _write_sync(self, contents: list[dict[str, Any]]) -> list[Row]:
        con = self._require()
        # IMMEDIATE takes the write lock up front, so another process writing the same
        # file (a CLI, a second server) waits for us instead of forking the chain.
        con.execute("BEGIN IMMEDIATE")
        try:
            head_seq, head_hash = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            rows = link(contents, head_seq, head_hash)
            con.executemany(INSERT, [_to_db(row) for row in rows])
            con.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1].seq, rows[-1].hash))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        return rows

    def _check_writable_sync(self) -> None:
        con = self._require()
        # A real, committed write: a rolled-back one never reaches the WAL, so it would not
        # notice a read-only file, mount or `chattr +i` (which stop even root) that will
        # stop the next append. It runs once per readiness check; the table has one row.
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS audit_probe (id INTEGER PRIMARY KEY CHECK (id = 1), checked_at TEXT NOT NULL)")
            con.execute("INSERT OR REPLACE INTO audit_probe (id, checked_at) VALUES (1, datetime('now'))")
            con.execute("COMMIT")
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")

    def _read_sync(self, query: ListFilter) -> list[Row]:
        where, params = [], []
        if query.outcome:
            where.append("outcome = ?")
            params.append(query.outcome)
        if query.source:
            # the source is in the hashed body only: no column, so no schema migration
            where.append("json_extract(body, '$.source') = ?")
            params.append(query.source)
        if query.since:
            where.append("time >= ?")
            params.append(as_utc(query.since).strftime(TIME_FORMAT))  # type: ignore[union-attr]
        if query.until:
            where.append("time < ?")
            params.append(as_utc(query.until).strftime(TIME_FORMAT))  # type: ignore[union-attr]
        if query.model:
            where.append("EXISTS (SELECT 1 FROM json_each(audit_records.models) WHERE json_each.value = ?)")
            params.append(query.model)
        sql = f"SELECT {COLUMNS} FROM audit_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(query.limit)
        con = self._connect()
        try:
            return [_from_db(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def _verify_sync(self) -> VerifyResult:
        con = self._connect()
        try:
            # One read transaction: in WAL mode a consistent snapshot of head and rows,
            # while appends go on.
            con.execute("BEGIN")
            head_seq, head_hash = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            verifier = ChainVerifier()
            last = None
            while True:
                page = con.execute(
                    f"SELECT {COLUMNS} FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?",
                    (-1 if last is None else last, VERIFY_PAGE),
                ).fetchall()
                for raw in page:
                    verifier.feed(_from_db(raw))
                if len(page) < VERIFY_PAGE:
                    break
                last = page[-1][0]
            con.execute("COMMIT")
            return verifier.finish(head_seq, head_hash)
        finally:
            con.close()

    def _require(self) -> sqlite3.Connection:
        if self._con is None:
            raise AuditStoreError(self.name, "closed")
        return self._con


def _has_schema(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'audit_head'").fetchone()[0] > 0


def _to_db(row: Row) -> tuple[Any, ...]:
    return (
        row.seq,
        row.decision_id,
        row.time.astimezone(timezone.utc).strftime(TIME_FORMAT),
        row.outcome,
        json.dumps(row.models),
        row.prev_hash,
        row.hash,
        row.body,
    )


def _from_db(raw: tuple[Any, ...]) -> Row:
    seq, decision_id, time, outcome, models, prev_hash, hash_, body = raw
    return Row(seq, decision_id, _parse_time(time), outcome, _parse_models(models), prev_hash, hash_, body)


def _parse_time(text: str) -> datetime:
    # An edited column must not crash `verify`: it shows up as a column/content mismatch.
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)


def _parse_models(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
