"""The audit store: open one by URL, append decisions, list them, verify the chain."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from gatekeeper.audit.chain import Row, VerifyResult, record_of
from gatekeeper.audit.errors import AuditStoreError, display_url, reason_of
from gatekeeper.audit.filters import ListFilter
from gatekeeper.audit.group_commit import GroupCommit
from gatekeeper.audit.record import CHAIN_FIELDS, OUTCOMES, SOURCES, AuditRecord


class Backend(Protocol):
    name: str

    async def write(self, contents: list[dict[str, Any]]) -> list[Row]: ...
    async def read(self, query: ListFilter) -> list[Row]: ...
    async def verify(self) -> VerifyResult: ...
    async def check_writable(self) -> None: ...
    async def close(self) -> None: ...


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
        self._commit: GroupCommit[dict[str, Any], Row] = GroupCommit(
            backend.write, wrap_error=self._error, closed_error=lambda: AuditStoreError(self.url, "closed")
        )
        self._closed = False

    async def append(self, record: AuditRecord) -> AuditRecord:
        """Chain and store the record; returns only once it is committed (durable)."""
        content = {k: v for k, v in record.content().items() if k not in CHAIN_FIELDS}
        row = await self._commit.submit(content)
        return record.model_copy(update={"seq": row.seq, "prev_hash": row.prev_hash, "hash": row.hash})

    async def list(
        self,
        model: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        source: str | None = None,
    ) -> list[AuditRecord]:
        """Newest first. `since` is inclusive, `until` exclusive; `model` is a name or name@version."""
        if outcome is not None and outcome not in OUTCOMES:
            raise AuditStoreError(self.url, f"unknown outcome {outcome!r} (one of {', '.join(OUTCOMES)})")
        if limit < 0:
            raise AuditStoreError(self.url, "limit must not be negative")
        if source is not None and source not in SOURCES:
            raise AuditStoreError(self.url, f"unknown source {source!r} (one of {', '.join(SOURCES)})")
        query = ListFilter(model=model, outcome=outcome, source=source, since=since, until=until, limit=limit)
        async with self._errors():
            return [record_of(row) for row in await self._backend.read(query)]

    async def verify(self) -> VerifyResult:
        async with self._errors():
            return await self._backend.verify()

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
