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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from gatekeeper.audit import merkle, tree
from gatekeeper.audit.checkpoints import Stored, next_checkpoint
from gatekeeper.audit.chain import LEAF_OF_PRUNED, ChainVerifier, Row, VerifyResult, link
from gatekeeper.audit.errors import AuditStoreError
from gatekeeper.audit.filters import ListFilter, as_utc
from gatekeeper.audit.record import GENESIS_HASH
from gatekeeper.audit.replay_data import StoredBundle, StoredInput
from gatekeeper.audit.tree import TreeHead

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

# The Merkle tree (tree.py). Separate from SCHEMA because logs written before it existed
# get it on their first writable open (CREATE ... IF NOT EXISTS, then the catch-up).
TREE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_tree (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_tree_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL
);
INSERT OR IGNORE INTO audit_tree_head (id, size, frontier) VALUES (1, 0, x'');
CREATE INDEX IF NOT EXISTS audit_records_decision ON audit_records (decision_id);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,        -- the signed note, as signed
    signed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_cosignatures (
    size INTEGER NOT NULL REFERENCES audit_checkpoints (size),
    witness TEXT NOT NULL,     -- the witness's verifier key
    line TEXT NOT NULL,        -- its signature line, to append to the note
    PRIMARY KEY (size, witness)
);
"""
# What replay needs (replay_data.py); older logs get these on their first writable open.
REPLAY_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_inputs (
    digest TEXT PRIMARY KEY,   -- sha256:<hex> of the canonical JSON, as records name it
    input BLOB NOT NULL,       -- zlib(canonical JSON of the OPA input), with base's as dictionary
    base TEXT,                 -- the input whose canonical JSON is the dictionary; NULL: none
    last_time TEXT NOT NULL    -- the newest record naming it or a dependent: pruned with the bodies
);
CREATE INDEX IF NOT EXISTS audit_inputs_last_time ON audit_inputs (last_time);
CREATE TABLE IF NOT EXISTS audit_bundles (
    revision TEXT PRIMARY KEY, -- the policy_revision records carry
    bundle BLOB NOT NULL,      -- the OPA bundle (gzipped tar) holding that revision
    opa_version TEXT NOT NULL, -- of the OPA that first evaluated it
    stored_at TEXT NOT NULL
);
"""
# Stored again whole, an input stored against a base becomes whole: bases never have one.
INSERT_INPUT = ("INSERT INTO audit_inputs (digest, input, base, last_time) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (digest) DO UPDATE SET last_time = max(last_time, excluded.last_time),"
                " input = CASE WHEN excluded.base IS NULL THEN excluded.input ELSE input END,"
                " base = CASE WHEN excluded.base IS NULL THEN NULL ELSE base END")
KEEP_BASE = "UPDATE audit_inputs SET last_time = max(last_time, ?) WHERE digest = ?"
# Records a catch-up transaction adds to the tree of an older log (bounds the write lock).
CATCH_UP_PAGE = 10000

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

    async def write(self, contents: list[dict[str, Any]], inputs: list[StoredInput]) -> list[Row]:
        return await self._in_writer(self._write_sync, contents, inputs)

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
            if self._mode != "ro":
                _build_tree(con)
        except BaseException:
            con.close()
            raise
        self._con = con

    def _write_sync(self, contents: list[dict[str, Any]], inputs: list[StoredInput]) -> list[Row]:
        con = self._require()
        # IMMEDIATE takes the write lock up front, so another process writing the same
        # file (a CLI, a second server) waits for us instead of forking the chain.
        con.execute("BEGIN IMMEDIATE")
        try:
            head_seq, head_hash = con.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
            rows = link(contents, head_seq, head_hash)
            con.executemany(INSERT, [_to_db(row) for row in rows])
            if inputs:
                con.executemany(INSERT_INPUT, [(i.digest, i.compressed, i.base, _time(i.time)) for i in inputs])
                con.executemany(KEEP_BASE, [(_time(i.time), i.base) for i in inputs if i.base])
            con.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (rows[-1].seq, rows[-1].hash))
            _grow_tree(con, _tree_head(con), [row.body for row in rows], head_seq)
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
            where.append("json_extract(nullif(body, ''), '$.source') = ?")
            params.append(query.source)
        if query.since:
            where.append("time >= ?")
            params.append(as_utc(query.since).strftime(TIME_FORMAT))  # type: ignore[union-attr]
        if query.until:
            where.append("time < ?")
            params.append(as_utc(query.until).strftime(TIME_FORMAT))  # type: ignore[union-attr]
        if query.model:
            # instr first: a substring test on the column as written (json.dumps) skips most records
            # without parsing them; json_each then keeps only exact elements (a name is not a name@version)
            where.append("instr(models, ?) > 0 "
                         "AND EXISTS (SELECT 1 FROM json_each(audit_records.models) WHERE json_each.value = ?)")
            params += [json.dumps(query.model), query.model]
        # in the hashed body only, like the source (a pruned record's empty body matches nothing)
        for path, value in (("$.object.namespace", query.namespace), ("$.user", query.user)):
            if value is not None:
                where.append(f"json_extract(nullif(body, ''), '{path}') = ?")
                params.append(value)
        for bound, value in (("seq < ?", query.before), ("seq > ?", query.after)):
            if value is not None:
                where.append(bound)
                params.append(value)
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
            checkpoints = {size: bytes(root) for size, root in con.execute(
                "SELECT size, root FROM audit_checkpoints")} if _has_tree(con) else {}
            verifier = ChainVerifier(checkpoints)
            leaf = LEAF_OF_PRUNED if _has_tree(con) else "NULL"
            last = None
            while True:
                page = con.execute(
                    f"SELECT {COLUMNS}, {leaf} FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?",
                    (-1 if last is None else last, VERIFY_PAGE),
                ).fetchall()
                for raw in page:
                    verifier.feed(_from_db(raw))
                if len(page) < VERIFY_PAGE:
                    break
                last = page[-1][0]
            tree_head = _tree_head(con) if _has_tree(con) else None
            con.execute("COMMIT")
            return verifier.finish(head_seq, head_hash, tree_head)
        finally:
            con.close()

    async def page(self, after: int, limit: int, query: ListFilter = ListFilter()) -> list[Row]:
        def page(con: sqlite3.Connection) -> list[Row]:
            where, params = ["seq > ?"], [after]
            if query.since:
                where.append("time >= ?")
                params.append(as_utc(query.since).strftime(TIME_FORMAT))  # type: ignore[union-attr,arg-type]
            if query.until:
                where.append("time < ?")
                params.append(as_utc(query.until).strftime(TIME_FORMAT))  # type: ignore[union-attr,arg-type]
            sql = f"SELECT {COLUMNS} FROM audit_records WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
            return [_from_db(raw) for raw in con.execute(sql, (*params, limit))]

        return await asyncio.to_thread(self._with_connection, page)

    async def sign_checkpoint(self, sign: Callable[[int, bytes], str]) -> Stored | None:
        return await self._in_writer(self._sign_checkpoint_sync, sign)

    def _sign_checkpoint_sync(self, sign: Callable[[int, bytes], str]) -> Stored | None:
        con = self._require()
        # The write lock: one signer at a time, and the tree cannot grow under us.
        con.execute("BEGIN IMMEDIATE")
        try:
            head = _tree_head(con)
            newest = _newest(con)
            old_root = _read_nodes(con, merkle.nodes_of([(0, newest.size)])) if newest and newest.size else {}
            made = next_checkpoint(head, newest, old_root, sign)
            if made is not None:
                con.execute("INSERT INTO audit_checkpoints (size, root, note, signed_at) VALUES (?, ?, ?, ?)",
                            (made.size, made.root, made.note, _now()))
            con.execute("COMMIT")
            return made
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")

    async def prune(self, before: datetime) -> int:
        def prune() -> int:
            con = self._require()
            con.execute("BEGIN IMMEDIATE")
            try:
                (head_seq,) = con.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()
                _grow_tree(con, _tree_head(con), [], head_seq)  # every leaf hashed before any body goes
                cutoff = _time(before)
                cur = con.execute("UPDATE audit_records SET body = '' WHERE time < ? AND body != ''", (cutoff,))
                con.execute("DELETE FROM audit_inputs WHERE last_time < ?", (cutoff,))
                # A bundle stored since the cutoff may belong to a revision with no decision yet.
                con.execute("DELETE FROM audit_bundles WHERE stored_at < ? AND revision NOT IN (SELECT"
                            " json_extract(body, '$.policy_revision') FROM audit_records WHERE body != '')", (cutoff,))
                con.execute("COMMIT")
                return cur.rowcount
            finally:
                if con.in_transaction:
                    con.execute("ROLLBACK")

        return await self._in_writer(prune)

    async def put_bundle(self, revision: str, bundle: bytes, opa_version: str) -> bool:
        def put() -> bool:
            cur = self._require().execute(
                "INSERT OR IGNORE INTO audit_bundles (revision, bundle, opa_version, stored_at) VALUES (?, ?, ?, ?)",
                (revision, bundle, opa_version, _now()))
            return cur.rowcount == 1

        return await self._in_writer(put)

    async def has_bundle(self, revision: str) -> bool:
        def has(con: sqlite3.Connection) -> bool:
            return _replay_read(con, "SELECT 1 FROM audit_bundles WHERE revision = ?", revision) is not None

        return await asyncio.to_thread(self._with_connection, has)

    async def bundle(self, revision: str) -> StoredBundle | None:
        def read(con: sqlite3.Connection) -> StoredBundle | None:
            raw = _replay_read(con, "SELECT revision, bundle, opa_version, stored_at FROM audit_bundles"
                                    " WHERE revision = ?", revision)
            return None if raw is None else StoredBundle(raw[0], bytes(raw[1]), raw[2], _parse_time(raw[3]))

        return await asyncio.to_thread(self._with_connection, read)

    async def inputs(self, digests: list[str]) -> dict[str, tuple[bytes, str | None]]:
        def read(con: sqlite3.Connection) -> dict[str, tuple[bytes, str | None]]:
            found: dict[str, tuple[bytes, str | None]] = {}
            for start in range(0, len(digests), 500):  # under SQLite's bound-parameter limit
                chunk = digests[start : start + 500]
                sql = f"SELECT digest, input, base FROM audit_inputs WHERE digest IN ({', '.join('?' * len(chunk))})"
                found.update((d, (bytes(blob), base)) for d, blob, base in _replay_rows(con, sql, chunk))
            return found

        return await asyncio.to_thread(self._with_connection, read)

    async def checkpoint(self, size: int | None) -> Stored | None:
        def read(con: sqlite3.Connection) -> Stored | None:
            return _newest(con) if size is None else _checkpoint_at(con, size)

        return await asyncio.to_thread(self._with_connection, read)

    async def add_cosignature(self, size: int, witness: str, line: str) -> None:
        def add() -> None:
            con = self._require()
            con.execute("INSERT OR REPLACE INTO audit_cosignatures (size, witness, line) VALUES (?, ?, ?)",
                        (size, witness, line))

        await self._in_writer(add)

    async def checkpoints(self) -> list[Stored]:
        def read(con: sqlite3.Connection) -> list[Stored]:
            return [_stored(con, *raw) for raw in con.execute("SELECT size, root, note FROM audit_checkpoints ORDER BY size")]

        return await asyncio.to_thread(self._with_connection, read)

    async def tree_head(self) -> TreeHead:
        return await asyncio.to_thread(self._with_connection, _tree_head)

    async def read_nodes(self, nodes: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return await asyncio.to_thread(self._with_connection, _read_nodes, nodes)

    async def find(self, decision_id: str) -> Row | None:
        def find(con: sqlite3.Connection) -> Row | None:
            raw = con.execute(
                f"SELECT {COLUMNS} FROM audit_records WHERE decision_id = ? ORDER BY seq LIMIT 1", (decision_id,)
            ).fetchone()
            return None if raw is None else _from_db(raw)

        return await asyncio.to_thread(self._with_connection, find)

    async def recent_models(self, limit: int) -> list[list[str]]:
        def read(con: sqlite3.Connection) -> list[list[str]]:
            rows = con.execute("SELECT models FROM audit_records ORDER BY seq DESC LIMIT ?", (limit,))
            return [json.loads(models) for (models,) in rows]

        return await asyncio.to_thread(self._with_connection, read)

    def _with_connection(self, fn, *args):  # type: ignore[no-untyped-def]
        con = self._connect()
        try:
            return fn(con, *args)
        finally:
            con.close()

    def _require(self) -> sqlite3.Connection:
        if self._con is None:
            raise AuditStoreError(self.name, "closed")
        return self._con


def _has_schema(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'audit_head'").fetchone()[0] > 0


def _build_tree(con: sqlite3.Connection) -> None:
    """Give a log written before the tree existed its tree: its records become the first
    leaves, in seq order, a page per transaction. A store that cannot be written (a
    read-only file) opens without: reads work, the next append would catch up."""
    try:
        con.executescript(TREE_SCHEMA + REPLAY_SCHEMA)
        while True:
            con.execute("BEGIN IMMEDIATE")
            try:
                (head_seq,) = con.execute("SELECT seq FROM audit_head WHERE id = 1").fetchone()
                head = _tree_head(con)
                done = head.size >= head_seq
                if not done:
                    _grow_tree(con, head, [], min(head_seq, head.size + CATCH_UP_PAGE))
                con.execute("COMMIT")
            finally:
                if con.in_transaction:
                    con.execute("ROLLBACK")
            if done:
                return
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise


def _has_tree(con: sqlite3.Connection) -> bool:
    return con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'audit_tree_head'").fetchone()[0] > 0


def _tree_head(con: sqlite3.Connection) -> TreeHead:
    found = con.execute("SELECT size, frontier FROM audit_tree_head WHERE id = 1").fetchone()
    return tree.EMPTY if found is None else tree.unpack(found[0], found[1])


def _grow_tree(con: sqlite3.Connection, head: TreeHead, bodies: list[str], upto: int) -> None:
    """Add the records up to seq `upto` that the tree lacks (older writers'), then `bodies`."""
    if head.size < upto:
        missing = [b for (b,) in con.execute(
            "SELECT body FROM audit_records WHERE seq > ? AND seq <= ? ORDER BY seq", (head.size, upto))]
        bodies = missing + bodies
    head, entries = tree.grow(head, bodies)
    con.executemany("INSERT INTO audit_tree (level, idx, hash) VALUES (?, ?, ?)", entries)
    con.execute("UPDATE audit_tree_head SET size = ?, frontier = ? WHERE id = 1", (head.size, tree.pack(head.frontier)))


def _now() -> str:
    return datetime.now(timezone.utc).strftime(TIME_FORMAT)


def _time(value: datetime) -> str:
    return as_utc(value).strftime(TIME_FORMAT)  # type: ignore[union-attr]


def _replay_read(con: sqlite3.Connection, sql: str, key: str) -> tuple[Any, ...] | None:
    """One row of the replay tables; None also for a log opened read-only that predates them."""
    rows = _replay_rows(con, sql, [key])
    return rows[0] if rows else None


def _replay_rows(con: sqlite3.Connection, sql: str, params: list[str]) -> list[tuple[Any, ...]]:
    try:
        return con.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise


def _stored(con: sqlite3.Connection, size: int, root: bytes, note: str) -> Stored:
    lines = [line for (line,) in con.execute("SELECT line FROM audit_cosignatures WHERE size = ? ORDER BY witness", (size,))]
    return Stored(size, bytes(root), note, lines)


def _newest(con: sqlite3.Connection) -> Stored | None:
    raw = con.execute("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1").fetchone()
    return None if raw is None else _stored(con, *raw)


def _checkpoint_at(con: sqlite3.Connection, size: int) -> Stored | None:
    raw = con.execute("SELECT size, root, note FROM audit_checkpoints WHERE size = ?", (size,)).fetchone()
    return None if raw is None else _stored(con, *raw)


def _read_nodes(con: sqlite3.Connection, nodes: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    found: dict[tuple[int, int], bytes] = {}
    for start in range(0, len(nodes), 200):  # well under SQLite's bound-parameter limit
        chunk = nodes[start : start + 200]
        where = " OR ".join(["(level = ? AND idx = ?)"] * len(chunk))
        params = [v for node in chunk for v in node]
        for level, idx, hash_ in con.execute(f"SELECT level, idx, hash FROM audit_tree WHERE {where}", params):
            found[(level, idx)] = bytes(hash_)
    missing = [node for node in nodes if node not in found]
    if missing:
        raise ValueError(f"the tree lacks the stored hash of subtree {missing[0]}")
    return found


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
    seq, decision_id, time, outcome, models, prev_hash, hash_, body, *leaf = raw
    return Row(seq, decision_id, _parse_time(time), outcome, _parse_models(models), prev_hash, hash_, body,
               bytes(leaf[0]) if leaf and leaf[0] is not None else None)


def _parse_time(text: str) -> datetime:
    # An edited column must not crash `verify`: it shows up as a column/content mismatch.
    # fromisoformat, not strptime: strptime was the largest cost of verifying a large log.
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)


def _parse_models(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
