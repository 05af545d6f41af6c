"""PostgreSQL audit store: one chain shared by every gate replica.

Replicas append at the same time, each with its own group commit. The chain stays a
single line because every batch first locks the head row (`SELECT ... FOR UPDATE`): the
next replica's batch waits for that COMMIT and then links onto the new head. The lock is
held only for one batch's INSERTs, so replicas take turns at batch, not record, rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import psycopg

from gatekeeper.audit import merkle, tree
from gatekeeper.audit.checkpoints import Stored, next_checkpoint
from gatekeeper.audit.chain import LEAF_OF_PRUNED, ChainVerifier, Row, VerifyResult, link
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.filters import ListFilter, as_utc
from gatekeeper.audit.record import GENESIS_HASH
from gatekeeper.audit.replay_data import StoredBundle, StoredInput
from gatekeeper.audit.tree import TreeHead

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

# The Merkle tree (tree.py): logs written before it get it on their first writable open.
TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_tree (
    level int NOT NULL,
    idx bigint NOT NULL,
    hash bytea NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE IF NOT EXISTS audit_tree_head (
    id int PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL,
    frontier bytea NOT NULL
);
INSERT INTO audit_tree_head (id, size, frontier) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING;
CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records (decision_id);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size bigint PRIMARY KEY,
    root bytea NOT NULL,
    note text NOT NULL,        -- the signed note, as signed
    signed_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_cosignatures (
    size bigint NOT NULL REFERENCES audit_checkpoints (size),
    witness text NOT NULL,     -- the witness's verifier key
    line text NOT NULL,        -- its signature line, to append to the note
    PRIMARY KEY (size, witness)
);
"""
# What replay needs (replay_data.py); older logs get these on their first writable open.
REPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_inputs (
    digest text PRIMARY KEY,     -- sha256:<hex> of the canonical JSON, as records name it
    input bytea NOT NULL,        -- zlib(canonical JSON of the OPA input), with base's as dictionary
    base text,                   -- the input whose canonical JSON is the dictionary; NULL: none
    last_time timestamptz NOT NULL -- the newest record naming it or a dependent: pruned with the bodies
);
CREATE INDEX IF NOT EXISTS audit_inputs_last_time ON audit_inputs (last_time);
CREATE TABLE IF NOT EXISTS audit_bundles (
    revision text PRIMARY KEY,   -- the policy_revision records carry
    bundle bytea NOT NULL,       -- the OPA bundle (gzipped tar) holding that revision
    opa_version text NOT NULL,   -- of the OPA that first evaluated it
    stored_at timestamptz NOT NULL DEFAULT now()
);
"""
# Stored again whole, an input stored against a base becomes whole: bases never have one.
INSERT_INPUT = ("INSERT INTO audit_inputs (digest, input, base, last_time) VALUES (%s, %s, %s, %s) ON CONFLICT"
                " (digest) DO UPDATE SET last_time = greatest(audit_inputs.last_time, excluded.last_time),"
                " input = CASE WHEN excluded.base IS NULL THEN excluded.input ELSE audit_inputs.input END,"
                " base = CASE WHEN excluded.base IS NULL THEN NULL ELSE audit_inputs.base END")
KEEP_BASE = "UPDATE audit_inputs SET last_time = greatest(last_time, %s) WHERE digest = %s"
# Held (transaction-scoped) while a replica signs: one checkpoint sequence for all of them.
CHECKPOINT_LOCK_KEY = 0x6761_7465_636B_7074  # "gateckpt"
# Records a catch-up transaction adds to the tree of an older log (bounds the head lock).
CATCH_UP_PAGE = 10000

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
            await _build_tree(conn)
        except BaseException:
            await backend.close()
            raise
        return backend

    async def write(self, contents: list[dict[str, Any]], inputs: list[StoredInput]) -> list[Row]:
        async with self._lock:
            try:
                return await self._write_once(contents, inputs)
            except _LostBeforeCommit:
                # Nothing of this batch reached the database (the connection was already
                # gone, e.g. closed by the server while idle): safe to redo on a new one.
                pass
            try:
                return await self._write_once(contents, inputs)
            except _LostBeforeCommit as again:
                raise again.__cause__ from None  # type: ignore[misc]

    async def _write_once(self, contents: list[dict[str, Any]], inputs: list[StoredInput]) -> list[Row]:
        conn = await self._connection()
        committing = False
        try:
            # Pipeline mode: two round trips per batch (BEGIN + lock the head; then the
            # INSERTs, the head update and COMMIT), so the head lock that other replicas
            # wait on is held for as little as possible.
            async with conn.pipeline(), conn.transaction():
                # The tree head row rides along, locked too: a replica that waited for the
                # lock must read both rows as the previous batch left them (READ COMMITTED
                # re-reads only the rows it locks).
                cur = await conn.execute(
                    "SELECT h.seq, h.hash, t.size, t.frontier FROM audit_head h, audit_tree_head t"
                    " WHERE h.id = 1 AND t.id = 1 FOR UPDATE"
                )
                head_seq, head_hash, size, frontier = await cur.fetchone()  # type: ignore[misc]
                rows = link(contents, head_seq, head_hash)
                async with conn.cursor() as cur:
                    await cur.executemany(INSERT, [row[:8] for row in rows])
                    if inputs:
                        await cur.executemany(INSERT_INPUT, [(i.digest, i.compressed, i.base, i.time) for i in inputs])
                        if bases := [(i.time, i.base) for i in inputs if i.base]:
                            await cur.executemany(KEEP_BASE, bases)
                await conn.execute(
                    "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (rows[-1].seq, rows[-1].hash)
                )
                await _grow_tree(conn, tree.unpack(size, frontier), [row.body for row in rows], head_seq)
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
            where.append("(nullif(body, '')::jsonb ->> 'source') = %s")
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
        # in the hashed body only, like the source (a pruned record's empty body matches nothing)
        for path, value in (("{object,namespace}", query.namespace), ("{user}", query.user)):
            if value is not None:
                where.append(f"(nullif(body, '')::jsonb #>> '{path}') = %s")
                params.append(value)
        for bound, value in (("seq < %s", query.before), ("seq > %s", query.after)):
            if value is not None:
                where.append(bound)
                params.append(value)
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
            checkpoints: dict[int, bytes] = {}
            tree_there = await _has_tree(conn)
            if tree_there:
                cur = await conn.execute("SELECT size, root FROM audit_checkpoints")
                checkpoints = {size: bytes(root) for size, root in await cur.fetchall()}
            verifier = ChainVerifier(checkpoints)
            last = -1
            while True:
                leaf = LEAF_OF_PRUNED if tree_there else "NULL"
                cur = await conn.execute(
                    f"SELECT {COLUMNS}, {leaf} FROM audit_records WHERE seq > %s ORDER BY seq LIMIT %s",
                    (last, VERIFY_PAGE),
                )
                page = await cur.fetchall()
                for raw in page:
                    verifier.feed(Row(*raw))
                if len(page) < VERIFY_PAGE:
                    break
                last = page[-1][0]
            tree_head = await _tree_head(conn) if await _has_tree(conn) else None
            await conn.execute("COMMIT")
            return verifier.finish(head_seq, head_hash, tree_head)

    async def page(self, after: int, limit: int, query: ListFilter = ListFilter()) -> list[Row]:
        where, params = ["seq > %s"], [after]
        if query.since:
            where.append("time >= %s")
            params.append(as_utc(query.since))  # type: ignore[arg-type]
        if query.until:
            where.append("time < %s")
            params.append(as_utc(query.until))  # type: ignore[arg-type]
        async with await self._connect() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM audit_records WHERE {' AND '.join(where)} ORDER BY seq LIMIT %s",
                (*params, limit),
            )
            return [Row(*raw) for raw in await cur.fetchall()]

    async def sign_checkpoint(self, sign: Callable[[int, bytes], str]) -> Stored | None:
        async with await self._connect() as conn, conn.transaction():
            # Not the head lock: appends go on while we sign; the tree head row we read is
            # a committed one, and its stored hashes never change.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHECKPOINT_LOCK_KEY,))
            head = await _tree_head(conn)
            newest = await _checkpoint(conn, None)
            stored = await _read_nodes(conn, merkle.nodes_of([(0, newest.size)])) if newest and newest.size else {}
            made = next_checkpoint(head, newest, stored, sign)
            if made is not None:
                await conn.execute("INSERT INTO audit_checkpoints (size, root, note) VALUES (%s, %s, %s)",
                                   (made.size, made.root, made.note))
            return made

    async def prune(self, before: datetime) -> int:
        async with await self._connect() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT h.seq, t.size, t.frontier FROM audit_head h, audit_tree_head t"
                " WHERE h.id = 1 AND t.id = 1 FOR UPDATE"
            )
            head_seq, size, frontier = await cur.fetchone()  # type: ignore[misc]
            await _grow_tree(conn, tree.unpack(size, frontier), [], head_seq)  # every leaf hashed first
            cutoff = as_utc(before)
            cur = await conn.execute("UPDATE audit_records SET body = '' WHERE time < %s AND body != ''", (cutoff,))
            pruned = cur.rowcount
            await conn.execute("DELETE FROM audit_inputs WHERE last_time < %s", (cutoff,))
            # A bundle stored since the cutoff may belong to a revision with no decision yet.
            await conn.execute("DELETE FROM audit_bundles b WHERE stored_at < %s AND NOT EXISTS (SELECT 1 FROM"
                               " audit_records r WHERE r.body != '' AND (r.body::jsonb ->> 'policy_revision')"
                               " = b.revision)", (cutoff,))
            return pruned

    async def put_bundle(self, revision: str, bundle: bytes, opa_version: str) -> bool:
        async with await self._connect() as conn:
            cur = await conn.execute("INSERT INTO audit_bundles (revision, bundle, opa_version) VALUES (%s, %s, %s)"
                                     " ON CONFLICT (revision) DO NOTHING", (revision, bundle, opa_version))
            return cur.rowcount == 1

    async def has_bundle(self, revision: str) -> bool:
        return await self._replay_read("SELECT 1 FROM audit_bundles WHERE revision = %s", revision) is not None

    async def bundle(self, revision: str) -> StoredBundle | None:
        raw = await self._replay_read(
            "SELECT revision, bundle, opa_version, stored_at FROM audit_bundles WHERE revision = %s", revision)
        return None if raw is None else StoredBundle(raw[0], bytes(raw[1]), raw[2], raw[3])

    async def inputs(self, digests: list[str]) -> dict[str, tuple[bytes, str | None]]:
        rows = await self._replay_rows("SELECT digest, input, base FROM audit_inputs WHERE digest = ANY(%s)", digests)
        return {digest: (bytes(blob), base) for digest, blob, base in rows}

    async def _replay_read(self, sql: str, key: str) -> tuple[Any, ...] | None:
        rows = await self._replay_rows(sql, key)
        return rows[0] if rows else None

    async def _replay_rows(self, sql: str, param: Any) -> list[tuple[Any, ...]]:
        """Rows of the replay tables; none also for a log that predates them (read-only)."""
        async with await self._connect() as conn:
            try:
                cur = await conn.execute(sql, (param,))
            except psycopg.errors.UndefinedTable:
                return []
            return await cur.fetchall()

    async def checkpoint(self, size: int | None) -> Stored | None:
        async with await self._connect() as conn:
            return await _checkpoint(conn, size)

    async def checkpoints(self) -> list[Stored]:
        async with await self._connect() as conn:
            cur = await conn.execute("SELECT size FROM audit_checkpoints ORDER BY size")
            return [await _checkpoint(conn, size) for (size,) in await cur.fetchall()]  # type: ignore[misc]

    async def add_cosignature(self, size: int, witness: str, line: str) -> None:
        async with await self._connect() as conn:
            await conn.execute(
                "INSERT INTO audit_cosignatures (size, witness, line) VALUES (%s, %s, %s)"
                " ON CONFLICT (size, witness) DO UPDATE SET line = excluded.line", (size, witness, line))

    async def tree_head(self) -> TreeHead:
        async with await self._connect() as conn:
            return await _tree_head(conn)

    async def read_nodes(self, nodes: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        async with await self._connect() as conn:
            return await _read_nodes(conn, nodes)

    async def find(self, decision_id: str) -> Row | None:
        async with await self._connect() as conn:
            cur = await conn.execute(
                f"SELECT {COLUMNS} FROM audit_records WHERE decision_id = %s ORDER BY seq LIMIT 1", (decision_id,)
            )
            raw = await cur.fetchone()
            return None if raw is None else Row(*raw)

    async def recent_models(self, limit: int) -> list[list[str]]:
        async with await self._connect() as conn:
            cur = await conn.execute("SELECT models FROM audit_records ORDER BY seq DESC LIMIT %s", (limit,))
            return [list(models) for (models,) in await cur.fetchall()]

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


async def _has_tree(conn: psycopg.AsyncConnection[Any]) -> bool:
    return await _has_table(conn, "audit_tree_head")


async def _has_table(conn: psycopg.AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,))
    return bool((await cur.fetchone())[0])  # type: ignore[index]


async def _build_tree(conn: psycopg.AsyncConnection[Any]) -> None:
    """Give a log written before the tree existed its tree: its records become the first
    leaves, in seq order, a page per transaction. A server we may not write to opens
    without: reads work, and the next append (if it ever may) catches up."""
    try:
        if not await _has_tree(conn):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                await conn.execute(TREE_SCHEMA)
        if not await _has_table(conn, "audit_bundles"):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                await conn.execute(REPLAY_SCHEMA)
        while True:
            async with conn.transaction():
                cur = await conn.execute(
                    "SELECT h.seq, t.size, t.frontier FROM audit_head h, audit_tree_head t"
                    " WHERE h.id = 1 AND t.id = 1 FOR UPDATE"
                )
                head_seq, size, frontier = await cur.fetchone()  # type: ignore[misc]
                if size >= head_seq:
                    return
                await _grow_tree(conn, tree.unpack(size, frontier), [], min(head_seq, size + CATCH_UP_PAGE))
    except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege):
        return


async def _tree_head(conn: psycopg.AsyncConnection[Any]) -> TreeHead:
    cur = await conn.execute("SELECT size, frontier FROM audit_tree_head WHERE id = 1")
    found = await cur.fetchone()
    return tree.EMPTY if found is None else tree.unpack(found[0], found[1])


async def _grow_tree(conn: psycopg.AsyncConnection[Any], head: TreeHead, bodies: list[str], upto: int) -> None:
    """Add the records up to seq `upto` that the tree lacks (older writers'), then `bodies`."""
    if head.size < upto:
        cur = await conn.execute(
            "SELECT body FROM audit_records WHERE seq > %s AND seq <= %s ORDER BY seq", (head.size, upto)
        )
        bodies = [b for (b,) in await cur.fetchall()] + bodies
    head, entries = tree.grow(head, bodies)
    async with conn.cursor() as cur:
        await cur.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (%s, %s, %s)", entries)
    await conn.execute(
        "UPDATE audit_tree_head SET size = %s, frontier = %s WHERE id = 1", (head.size, tree.pack(head.frontier))
    )


async def _checkpoint(conn: psycopg.AsyncConnection[Any], size: int | None) -> Stored | None:
    if size is None:
        cur = await conn.execute("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
    else:
        cur = await conn.execute("SELECT size, root, note FROM audit_checkpoints WHERE size = %s", (size,))
    raw = await cur.fetchone()
    if raw is None:
        return None
    cur = await conn.execute("SELECT line FROM audit_cosignatures WHERE size = %s ORDER BY witness", (raw[0],))
    return Stored(raw[0], bytes(raw[1]), raw[2], [line for (line,) in await cur.fetchall()])


async def _read_nodes(conn: psycopg.AsyncConnection[Any], nodes: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    cur = await conn.execute(
        "SELECT t.level, t.idx, t.hash FROM audit_tree t"
        " JOIN unnest(%s::int[], %s::bigint[]) AS n(level, idx) ON t.level = n.level AND t.idx = n.idx",
        ([level for level, _ in nodes], [idx for _, idx in nodes]),
    )
    found = {(level, idx): bytes(h) for level, idx, h in await cur.fetchall()}
    missing = [node for node in nodes if node not in found]
    if missing:
        raise ValueError(f"the tree lacks the stored hash of subtree {missing[0]}")
    return found
