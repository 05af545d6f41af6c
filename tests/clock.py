"""A clock the tests move by hand: expiry and TTL tests never sleep on the real one."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class FakeClock:
    """Both of the gate's clocks: the wall clock decisions are made at (`now`) and the
    monotonic one evidence TTLs run on. `advance` moves both, as time does."""

    def __init__(self, start: datetime | None = None) -> None:
        self.wall = start or datetime.now(timezone.utc)
        self.elapsed = 1_000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.elapsed += seconds
