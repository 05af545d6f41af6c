"""Times as the console shows them: UTC, with an age a person reads at a glance."""

from __future__ import annotations

from datetime import datetime, timezone

_UNITS = ((86400 * 365, "year"), (86400, "day"), (3600, "hour"), (60, "minute"))


def utc(value: datetime | str | None) -> str:
    """2026-12-06 15:04 UTC ("" for none)."""
    if not value:
        return ""
    moment = parse(value)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def relative(value: datetime | str | None, now: datetime) -> str:
    """'3 hours ago', 'in 10 days', 'just now' ("" for none)."""
    if not value:
        return ""
    seconds = (parse(value) - now).total_seconds()
    span = abs(seconds)
    for size, unit in _UNITS:
        if span >= size:
            count = round(span / size)
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if seconds > 0 else f"{text} ago"
    return "just now"


def parse(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
