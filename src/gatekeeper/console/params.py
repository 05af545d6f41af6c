"""The pages' query parameters, checked: a bad one is a 400 naming it and saying what
is expected, never a traceback or a silently ignored filter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from gatekeeper.audit.record import OUTCOMES, SOURCES

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
COMPLIANT = ("true", "false", "unknown")
MAX_TEXT = 253  # a Kubernetes name's longest


class BadQuery(ValueError):
    """A query parameter the page cannot use; the message is the reason shown."""


@dataclass(frozen=True)
class DecisionQuery:
    since: datetime | None = None
    until: datetime | None = None
    outcome: str | None = None
    source: str | None = None
    namespace: str | None = None
    model: str | None = None
    user: str | None = None
    before: int | None = None
    limit: int = PAGE_SIZE


@dataclass(frozen=True)
class WorkloadQuery:
    namespace: str | None = None
    environment: str | None = None
    compliant: str | None = None
    model: str | None = None


def decision_query(params: Mapping[str, str]) -> DecisionQuery:
    _only(params, {"since", "until", "outcome", "source", "namespace", "model", "user", "before", "limit"})
    since, until = _time(params, "since"), _time(params, "until")
    if since and until and since >= until:
        raise BadQuery("since must be before until")
    return DecisionQuery(
        since=since, until=until,
        outcome=_choice(params, "outcome", OUTCOMES), source=_choice(params, "source", SOURCES),
        namespace=_text(params, "namespace"), model=_text(params, "model"), user=_text(params, "user"),
        before=_number(params, "before", 1, 2**63 - 1), limit=_number(params, "limit", 1, MAX_PAGE_SIZE) or PAGE_SIZE)


def workload_query(params: Mapping[str, str]) -> WorkloadQuery:
    _only(params, {"namespace", "environment", "compliant", "model"})
    return WorkloadQuery(namespace=_text(params, "namespace"), environment=_text(params, "environment"),
                         compliant=_choice(params, "compliant", COMPLIANT), model=_text(params, "model"))


def _only(params: Mapping[str, str], known: set[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise BadQuery(f"unknown query parameter {unknown[0]!r} (this page takes {', '.join(sorted(known))})")


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if len(value) > MAX_TEXT:
        raise BadQuery(f"{name} is longer than {MAX_TEXT} characters")
    return value or None


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(params, name)
    if value is not None and value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
    return value


def _number(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    value = _text(params, name)
    if value is None:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise BadQuery(f"{name} must be a whole number from {low} to {high} (got {value!r})")
    return int(value)


def _time(params: Mapping[str, str], name: str) -> datetime | None:
    """2026-12-01 or 2026-12-01T10:00 or 2026-12-01T10:00:00Z; UTC unless an offset says otherwise."""
    value = _text(params, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadQuery(f"{name} must be a date or time in ISO 8601, e.g. 2026-12-01 or 2026-12-01T10:00Z "
                       f"(got {value!r})") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
