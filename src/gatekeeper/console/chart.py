"""The decision timeline of a model version as an inline SVG (drawn on the server: the
page needs no script). One lane per outcome, one dot per decision, time left to right."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gatekeeper.audit import AuditRecord

LANES = ("admitted", "warned", "denied", "error")
WIDTH, LANE_HEIGHT, LEFT, RIGHT = 720, 28, 80, 16


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    outcome: str
    title: str  # the tooltip: time, outcome, source, object
    href: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    lanes: list[tuple[str, float]]  # label, y
    dots: list[Dot]
    start: datetime
    end: datetime


def timeline(records: list[AuditRecord]) -> Timeline | None:
    if not records:
        return None
    start, end = min(r.time for r in records), max(r.time for r in records)
    span = (end - start).total_seconds() or 1.0
    usable = WIDTH - LEFT - RIGHT
    lanes = [(lane, LANE_HEIGHT * i + LANE_HEIGHT / 2) for i, lane in enumerate(LANES)]
    y_of = dict(lanes)
    dots = [Dot(x=LEFT + usable * ((r.time - start).total_seconds() / span if end > start else 0.5),
                y=y_of.get(r.outcome, y_of["error"]), outcome=r.outcome,
                title=f"{r.time:%Y-%m-%d %H:%M} UTC {r.outcome} ({r.source}) {r.object.display()}",
                href=f"/decisions/{r.decision_id}") for r in records]
    return Timeline(WIDTH, LANE_HEIGHT * len(LANES), lanes, dots, start, end)
