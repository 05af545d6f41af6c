"""What `AuditStore.list` can be asked for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class ListFilter:
    model: str | None = None  # a model name, or name@version
    outcome: str | None = None
    source: str | None = None  # webhook | cli | api | background
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    limit: int = 100
    namespace: str | None = None  # the object's namespace
    user: str | None = None  # who asked (the admission's user)
    before: int | None = None  # only records with seq below this (a page cursor: newest first)
    after: int | None = None  # only records with seq above this (what is new since a read)


def as_utc(value: datetime | None) -> datetime | None:
    """Naive times are UTC (as records are)."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
