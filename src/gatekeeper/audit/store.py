"""The audit store: open one by URL, append decisions, list them, verify the chain."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

from gatekeeper.audit import merkle
from gatekeeper.audit.chain import Row, VerifyResult, record_of
from gatekeeper.audit.checkpoints import InconsistentTree, Stored
from gatekeeper.audit.errors import AuditStoreError, display_url, reason_of
from gatekeeper.audit.filters import ListFilter, as_utc
from gatekeeper.audit.group_commit import GroupCommit
from gatekeeper.audit.note import Checkpoint, Note, NoteError, Signer, Verifier
from gatekeeper.audit.proofs import InvalidProof, proof_document
from gatekeeper.audit.record import CHAIN_FIELDS, OUTCOMES, SOURCES, AuditRecord
from gatekeeper.audit.replay_data import Bases, StoredBundle, StoredInput, TamperedInput, document, unpack
from gatekeeper.audit.tree import TreeHead

# Rows per read when streaming the whole log (export): memory stays bounded by this.
PAGE = 1000


class Backend(Protocol):
    name: str

    async def write(self, contents: list[dict[str, Any]], inputs: list[StoredInput]) -> list[Row]: ...
    async def read(self, query: ListFilter) -> list[Row]: ...
    async def verify(self) -> VerifyResult: ...
    async def check_writable(self) -> None: ...
    async def close(self) -> None: ...
    async def page(self, after: int, limit: int, query: ListFilter = ...) -> list[Row]: ...
    async def tree_head(self) -> TreeHead: ...
    async def read_nodes(self, nodes: list[merkle.Node]) -> dict[merkle.Node, bytes]: ...
    async def find(self, decision_id: str) -> Row | None: ...
    async def recent_models(self, limit: int) -> list[list[str]]: ...
    async def sign_checkpoint(self, sign: Callable[[int, bytes], str]) -> Stored | None: ...
    async def checkpoint(self, size: int | None) -> Stored | None: ...
    async def checkpoints(self) -> list[Stored]: ...
    async def add_cosignature(self, size: int, witness: str, line: str) -> None: ...
    async def prune(self, before: datetime) -> int: ...
    async def put_bundle(self, revision: str, bundle: bytes, opa_version: str) -> bool: ...
    async def has_bundle(self, revision: str) -> bool: ...
    async def bundle(self, revision: str) -> StoredBundle | None: ...
    async def inputs(self, digests: list[str]) -> dict[str, tuple[bytes, str | None]]: ...


async def open_store(url: str, *, create: bool = True) -> AuditStore:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, a plain file path, or
    `postgresql://...`. `create=False` (the CLI) refuses to make a new, empty log: a typo
    in a path must not read as "audit log intact: 0 records".
    """
    name = display_url(url)
    try:
        if url.startswith(("postgresql://", "postgres://")):
            # Imported here: a SQLite-only gate does not load the PostgreSQL driver.
            from gatekeeper.audit.postgres import PostgresBackend

            backend: Backend = await PostgresBackend.open(name, url, create=create)
        else:
            path, read_only = _sqlite_path(url)
            if not url.startswith("sqlite:"):
                name = f"sqlite:///{path}"
            from gatekeeper.audit.sqlite import SqliteBackend

            backend = await SqliteBackend.open(name, path, create=create, read_only=read_only)
    except AuditStoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - a store that cannot open is one error
        raise AuditStoreError(name, reason_of(exc)) from exc
    return AuditStore(backend)


def _sqlite_path(url: str) -> tuple[str, bool]:
    """The file and whether `?mode=ro` asked for a read-only store."""
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if not rest.startswith("///"):
            raise AuditStoreError(url, "expected sqlite:///PATH (relative) or sqlite:////PATH (absolute)")
        rest = rest[3:]
    elif "://" in url:
        raise AuditStoreError(url, "unknown kind of store: use sqlite:///PATH or postgresql://...")
    else:
        rest = url
    path, _, query = rest.partition("?")
    if not path or path == ":memory:":
        raise AuditStoreError(url, "needs a file path")
    mode = parse_qs(query).get("mode", [""])[-1]
    if mode not in ("", "ro", "rw", "rwc"):
        raise AuditStoreError(url, f"unknown mode {mode!r} (ro, rw or rwc)")
    return path, mode == "ro"


class AuditStore:
    def __init__(self, backend: Backend) -> None:
        self.url = backend.name
        self._backend = backend
        self._commit: GroupCommit[tuple[dict[str, Any], StoredInput | None], Row] = GroupCommit(
            self._write, wrap_error=self._error, closed_error=lambda: AuditStoreError(self.url, "closed")
        )
        self._closed = False
        self._bases = Bases()

    async def append(self, record: AuditRecord, input_doc: dict[str, Any] | None = None) -> AuditRecord:
        """Chain and store the record, and the OPA input it was decided on (its digest goes
        into the record as `input_digest`); returns only once both are committed (durable)."""
        packed = None
        if input_doc is not None:
            packed = self._bases.pack(input_doc, record.time)
            record = record.model_copy(update={"input_digest": packed.stored.digest})
        content = {k: v for k, v in record.content().items() if k not in CHAIN_FIELDS}
        row = await self._commit.submit((content, packed.stored if packed else None))
        if packed is not None:
            self._bases.committed(packed)
        return record.model_copy(update={"seq": row.seq, "prev_hash": row.prev_hash, "hash": row.hash})

    async def _write(self, batch: list[tuple[dict[str, Any], StoredInput | None]]) -> list[Row]:
        return await self._backend.write([content for content, _ in batch], [i for _, i in batch if i is not None])

    async def put_bundle(self, revision: str, bundle: bytes, opa_version: str) -> bool:
        """Store a policy revision's OPA bundle under its digest, once (content-addressed:
        the caller checks the bundle holds that revision). True when it was not there yet."""
        async with self._errors():
            return await self._backend.put_bundle(revision, bundle, opa_version)

    async def has_bundle(self, revision: str) -> bool:
        async with self._errors():
            return await self._backend.has_bundle(revision)

    async def bundle(self, revision: str) -> StoredBundle | None:
        """The stored bundle of a policy revision, as stored (replay checks its digest)."""
        async with self._errors():
            return await self._backend.bundle(revision)

    async def input(self, digest: str) -> dict[str, Any] | None:
        """The OPA input stored under `digest`, None when there is none (pruned, or never
        stored). Raises AuditStoreError naming it when its content no longer matches."""
        return (await self.inputs([digest])).get(digest)

    async def inputs(self, digests: list[str]) -> dict[str, dict[str, Any]]:
        """The stored inputs of these digests (one read), by digest; those not stored are
        left out. Raises AuditStoreError naming the first whose content no longer matches."""
        async with self._errors():
            stored = await self._backend.inputs(sorted(set(digests)))
            bases = sorted({base for _, base in stored.values() if base and base not in stored})
            if bases:
                stored.update(await self._backend.inputs(bases))
        texts: dict[str, bytes] = {}

        def text_of(digest: str, dependent: str | None = None) -> bytes:
            if digest not in texts:
                if digest not in stored:
                    raise TamperedInput(f"the stored input {dependent} was changed: its base {digest} is not in the store")
                compressed, base = stored[digest]
                if base is not None and dependent is not None:  # bases are stored whole
                    raise TamperedInput(f"the stored input {dependent} was changed: its base {digest} has a base")
                texts[digest] = unpack(digest, compressed, text_of(base, digest) if base else None)
            return texts[digest]

        try:
            return {d: document(d, text_of(d)) for d in sorted(set(digests)) if d in stored}
        except TamperedInput as exc:
            raise AuditStoreError(self.url, str(exc)) from None

    async def list(
        self,
        model: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        source: str | None = None,
        *,
        namespace: str | None = None,
        user: str | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> list[AuditRecord]:
        """Newest first. `since` is inclusive, `until` exclusive; `model` is a name or name@version;
        `before` a seq: the page after one that ended there; `after` a seq: only newer records."""
        if outcome is not None and outcome not in OUTCOMES:
            raise AuditStoreError(self.url, f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        if limit < 0:
            raise AuditStoreError(self.url, "limit must not be negative")
        if source is not None and source not in SOURCES:
            raise AuditStoreError(self.url, f"unknown source {source!r} (one of {', '.join(SOURCES)})")
        query = ListFilter(model=model, outcome=outcome, source=source, since=since, until=until, limit=limit,
                           namespace=namespace, user=user, before=before, after=after)
        async with self._errors():
            return [record_of(row) for row in await self._backend.read(query)]

    async def verify(self, log_key: Verifier | None = None) -> VerifyResult:
        """Every record against its chain hash, the tree and every stored checkpoint; with
        the log's verifier key, also that each checkpoint is signed by it."""
        async with self._errors():
            result = await self._backend.verify()
        if result.ok and log_key is not None:
            stored_checkpoints = await self.checkpoints()
            if result.count and not stored_checkpoints:
                return result.model_copy(update={"ok": False, "reason": "no signed checkpoint: the log's checkpoints "
                                                 "were removed, or it was never signed"})
            for stored in stored_checkpoints:
                problem = _not_signed(stored, log_key)
                if problem:
                    return result.model_copy(update={"ok": False, "reason": problem})
        return result

    async def prune(self, before: datetime, now: datetime, min_retention: timedelta) -> int:
        """Remove the bodies of records older than `before`, keeping every hash (chain and
        tree), so checkpoints and the proofs of kept records stay valid; with them the OPA
        inputs no kept record names, and the bundles of revisions no kept record names. Refuses to remove
        anything younger than the retention minimum. Returns how many were pruned."""
        before, now = as_utc(before), as_utc(now)  # type: ignore[assignment]
        if before > now - min_retention:  # type: ignore[operator]
            raise AuditStoreError(self.url, f"refusing to prune records younger than the retention minimum of "
                                            f"{min_retention.days} days (--before must be on or before "
                                            f"{(now - min_retention).date().isoformat()})")  # type: ignore[operator]
        async with self._errors():
            return await self._backend.prune(before)

    async def prove(self, decision_id: str) -> dict[str, Any]:
        """The proof file of `gatekeeper audit prove` (audit.proofs), against the newest checkpoint."""
        row = await self.find(decision_id)
        if row is None:
            raise AuditStoreError(self.url, f"no decision {decision_id} in the log")
        if row.pruned:
            raise AuditStoreError(self.url, f"decision {decision_id} (record {row.seq}) was pruned: its body is gone, "
                                            "its hash stays in the tree")
        newest = await self.checkpoint()
        if newest is None or newest.size < row.seq:
            covered = f"the newest is of size {newest.size}" if newest else "there is none yet"
            raise AuditStoreError(self.url, f"decision {decision_id} (record {row.seq}) is not in a signed "
                                            f"checkpoint yet ({covered}; the gate signs one every checkpoint interval)")
        proof = await self.inclusion_proof(row.seq - 1, newest.size)
        return proof_document(decision_id, row.seq, row.body, newest, proof)

    async def extends(self, older: Checkpoint) -> Stored:
        """Check that the log's newest checkpoint extends an older one (RFC 9162 consistency
        proof from the stored tree). Returns the newest; raises InvalidProof naming the fork."""
        newest = await self.checkpoint()
        if newest is None or newest.size < older.size:
            have = newest.size if newest else 0
            raise InvalidProof(f"the log's newest checkpoint is of size {have}, smaller than the given one of "
                               f"size {older.size}: records were removed")
        proof = await self.consistency_proof(older.size, newest.size)
        try:
            merkle.verify_consistency(older.size, newest.size, older.root, newest.root, proof)
        except merkle.ProofError as exc:
            raise InvalidProof(f"the log does not extend the checkpoint of size {older.size} (a fork): {exc}") from None
        return newest

    async def rows(self, since: datetime | None = None, until: datetime | None = None) -> AsyncIterator[Row]:
        """The stored records in seq order (leaf order), a page at a time (bounded memory);
        `since` inclusive, `until` exclusive."""
        after, query = 0, ListFilter(since=since, until=until)
        while True:
            async with self._errors():
                page = await self._backend.page(after, PAGE, query)
            for row in page:
                yield row
            if len(page) < PAGE:
                return
            after = page[-1].seq

    async def tree_head(self) -> TreeHead:
        async with self._errors():
            return await self._backend.tree_head()

    async def find(self, decision_id: str) -> Row | None:
        async with self._errors():
            return await self._backend.find(decision_id)

    async def recent_models(self, limit: int) -> set[str]:
        """The `name@version` labels the newest `limit` records name (their indexed column only,
        no record read whole: the console's list of models seen in decisions)."""
        async with self._errors():
            rows = await self._backend.recent_models(limit)
        return {label for labels in rows for label in labels if "@" in label}

    async def hashes(self, ranges: list[merkle.Range]) -> list[bytes]:
        """The hashes of these leaf ranges (a proof's), from one read of stored subtrees."""
        async with self._errors():
            stored = await self._backend.read_nodes(merkle.nodes_of(ranges))
        return merkle.resolve(ranges, stored)

    async def root_at(self, size: int) -> bytes:
        return (await self.hashes([(0, size)]))[0] if size else merkle.EMPTY_ROOT

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return await self.hashes(merkle.inclusion_ranges(index, size))

    async def consistency_proof(self, old: int, new: int) -> list[bytes]:
        return await self.hashes(merkle.consistency_ranges(old, new))

    async def sign_checkpoint(self, signer: Signer, origin: str) -> Stored | None:
        """Sign and store a checkpoint of the current tree if it grew since the newest one.
        Refuses (AuditStoreError) when the stored tree no longer extends the newest."""

        def sign(size: int, root: bytes) -> str:
            return signer.sign(Checkpoint(origin, size, root).text())

        async with self._errors():
            try:
                return await self._backend.sign_checkpoint(sign)
            except InconsistentTree as exc:
                raise AuditStoreError(self.url, str(exc)) from None

    async def checkpoint(self, size: int | None = None) -> Stored | None:
        """The newest signed checkpoint (or the one of this size), with its cosignatures."""
        async with self._errors():
            return await self._backend.checkpoint(size)

    async def checkpoints(self) -> list[Stored]:
        async with self._errors():
            return await self._backend.checkpoints()

    async def add_cosignature(self, size: int, witness: str, line: str) -> None:
        async with self._errors():
            await self._backend.add_cosignature(size, witness, line)

    async def check_writable(self) -> None:
        """Raises AuditStoreError (with the reason) when an append would fail now."""
        if self._closed:
            raise AuditStoreError(self.url, "closed")
        async with self._errors():
            await self._backend.check_writable()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._commit.close()
        finally:
            async with self._errors():
                await self._backend.close()

    async def __aenter__(self) -> AuditStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _error(self, exc: BaseException) -> AuditStoreError:
        if isinstance(exc, AuditStoreError):
            return exc
        return AuditStoreError(self.url, reason_of(exc))

    @contextlib.asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        try:
            yield
        except AuditStoreError:
            raise
        except Exception as exc:  # noqa: BLE001 - callers handle one error type, with the store named
            raise self._error(exc) from exc


def _not_signed(stored: Stored, log_key: Verifier) -> str | None:
    try:
        note = Note.parse(stored.note)
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        return f"the checkpoint of size {stored.size} is malformed: {exc}"
    if not note.signed_by(log_key):
        return (f"the checkpoint of size {stored.size} is not signed by the log key {log_key.name}: "
                "the log was rebuilt and re-signed with another key")
    if (checkpoint.size, checkpoint.root) != (stored.size, stored.root):
        return f"the checkpoint stored as size {stored.size} signs another tree (size {checkpoint.size})"
    return None
