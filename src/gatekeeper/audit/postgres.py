"""PostgreSQL audit store: one chain shared by every gate replica.

Replicas append at the same time, each with its own group commit. The chain stays a
single line because every batch first locks the head row (`SELECT ... FOR UPDATE`): the
next replica's batch waits for that COMMIT and then links onto the new head. The lock is
held only for one batch's INSERTs, so replicas take turns at batch, not record, rate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from gatekeeper.audit.chain import ChainVerifier, Row, VerifyResult, link
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.filters import ListFilter, as_utc
from gatekeeper.audit.record import GENESIS_HASH

CONNECT_TIMEOUT_S = 5
VERIFY_PAGE = 1000
# Any constant: two replicas starting together must not both create the schema at once
# (CREATE TABLE IF NOT EXISTS is not safe against a concurrent CREATE).
SCHEMA_LOCK_KEY = 0x6761_7465_6175_6474  # "gateaudt"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_records (
    seq bigint PRIMARY KEY,
    decision_id text NOT NULL,
    time timestamptz NOT NULL,
    outcome text NOT NULL,
    models text[] NOT NULL,   -- model names and name@version, for --model
    prev_hash text NOT NULL,
    hash text NOT NULL,
    body text NOT NULL        -- text, not jsonb: the hash is over these exact characters
);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit_records_outcome ON audit_records (outcome);
CREATE INDEX IF NOT EXISTS audit_records_models ON audit_records USING gin (models);
CREATE TABLE IF NOT EXISTS audit_head (
    id int PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    hash text NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}') ON CONFLICT (id) DO NOTHING;
"""

COLUMNS = "seq, decision_id, time, outcome, models, prev_hash, hash, body"
INSERT = f"INSERT INTO audit_records ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"


class _LostBeforeCommit(Exception):
    pass


class PostgresBackend:
    def __init__(self, name: str, url: str) -> None:
        self.name = name
        self._url = url
        self._conn: psycopg.AsyncConnection[Any] | None = None
        # The writing connection is shared by the group-commit writer and check_writable.
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, name: str, url: str, *, create: bool) -> PostgresBackend:
        backend = cls(name, url)
        conn = await backend._connection()
        try:
            # DDL only when the log is new: an existing log on a read-only server must
            # still open, so that reads work and check_writable can say what is wrong.
            if not await _has_schema(conn) and create:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                    await conn.execute(SCHEMA)
            if not await _has_schema(conn):
                raise AuditStoreError(name, "no audit log there (table audit_head does not exist)")
        except BaseException:
            await backend.close()
            raise
        return backend

    async def write(self, contents: list[dict[str, Any]]) -> list[Row]:
        async with self._lock:
            try:
                return await self._write_once(contents)
            except _LostBeforeCommit:
                # Nothing of this batch reached the database (the connection was already
                # gone, e.g. closed by the server while idle): safe to redo on a new one.
                pass
            try:
                return await self._write_once(contents)
            except _LostBeforeCommit as again:
                raise again.__cause__ from None  # type: ignore[misc]

    async def _write_once(self, contents: list[dict[str, Any]]) -> list[Row]:
        conn = await self._connection()
        committing = False
        try:
            # Pipeline mode: two round trips per batch (BEGIN + lock the head; then the
            # INSERTs, the head update and COMMIT), so the head lock that other replicas
            # wait on is held for as little as possible.
            async with conn.pipeline(), conn.transaction():
                cur = await conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
                head_seq, head_hash = await cur.fetchone()  # type: ignore[misc]
                rows = link(contents, head_seq, head_hash)
                async with conn.cursor() as cur:
                    await cur.executemany(INSERT, rows)
                await conn.execute(
                    "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (rows[-1].seq, rows[-1].hash)
                )
                committing = True
        except psycopg.OperationalError as exc:
            # A connection lost during COMMIT may or may not have committed: that is
            # reported, never retried (a retry could store the batch twice).
            if conn.broken and not committing:
                raise _LostBeforeCommit() from exc
            raise
        return rows

    async def check_writable(self) -> None:
        async with self._lock:
            conn = await self._connection()
            # Privilege and mode checks, not a trial write: a trial write would take the
            # head lock that the replicas' appends queue on.
            cur = await conn.execute(
                "SELECT pg_is_in_recovery(), current_setting('default_transaction_read_only'),"
                " has_table_privilege('audit_records', 'INSERT'), has_table_privilege('audit_head', 'UPDATE')"
            )
            standby, read_only, can_insert, can_update = await cur.fetchone()  # type: ignore[misc]
        if standby:
            raise AuditStoreError(self.name, "the server is a read-only standby")
        if read_only == "on":
            raise AuditStoreError(self.name, "sessions are read-only (default_transaction_read_only)")
        if not (can_insert and can_update):
            raise AuditStoreError(self.name, "this user may not insert into audit_records or update audit_head")

    async def read(self, query: ListFilter) -> list[Row]:
        where, params = [], []
        if query.outcome:
            where.append("outcome = %s")
            params.append(query.outcome)
        if query.source:
            # the source is in the hashed body only: no column, so no schema migration
            where.append("(body::jsonb ->> 'source') = %s")
            params.append(query.source)
        if query.since:
            where.append("time >= %s")
            params.append(as_utc(query.since))
        if query.until:
            where.append("time < %s")
            params.append(as_utc(query.until))
        if query.model:
            where.append("models @> ARRAY[%s]::text[]")
            params.append(query.model)
        sql = f"SELECT {COLUMNS} FROM audit_records"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT %s"
        params.append(query.limit)
        async with await self._connect() as conn:
            cur = await conn.execute(sql, params)
            return [Row(*r) for r in await cur.fetchall()]

    async def verify(self) -> VerifyResult:
        async with await self._connect() as conn:
            # One snapshot for head and rows, while the replicas go on appending.
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur = await conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
            head_seq, head_hash = await cur.fetchone()  # type: ignore[misc]
            verifier = ChainVerifier()
            last = -1
            while True:
                cur = await conn.execute(
                    f"SELECT {COLUMNS} FROM audit_records WHERE seq > %s ORDER BY seq LIMIT %s", (last, VERIFY_PAGE)
                )
                page = await cur.fetchall()
                for raw in page:
                    verifier.feed(Row(*raw))
                if len(page) < VERIFY_PAGE:
                    break
                last = page[-1][0]
            await conn.execute("COMMIT")
            return verifier.finish(head_seq, head_hash)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        # Reconnect after a lost connection: the failed batch was reported to its callers,
        # the next one must not fail for the same old reason.
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = await self._connect()
        return self._conn

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(
            self._url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="gatekeeper-audit"
        )


async def _has_schema(conn: psycopg.AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT to_regclass('audit_head') IS NOT NULL")
    return bool((await cur.fetchone())[0])  # type: ignore[index]
