"""The small pieces of markup a page repeats for every row (a badge, a model's link, a time):
plain functions rather than Jinja macros, whose per-call cost dominated a 1,000-row page.
Every value is escaped (markupsafe.escape, the C one), as autoescaping would."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from gatekeeper.console import timefmt

COMPLIANT = {"true": "compliant", "false": "not compliant"}


def compliant(value: str) -> Markup:
    return Markup(f'<span class="badge compliant-{escape(value)}">{escape(COMPLIANT.get(value, "not judged yet"))}</span>')


def outcome(value: str) -> Markup:
    return Markup(f'<span class="badge {escape(value)}">{escape(value)}</span>')


def model_link(label: str) -> Markup:
    name, _, version = label.partition("@")
    return Markup(f'<a href="/models/{escape(name)}/{escape(version)}">{escape(label)}</a>')


def workload_links(rows: list[dict[str, Any]]) -> Markup:
    """Where a version runs: each workload linking to its namespace's list."""
    if not rows:
        return Markup('<span class="age">nowhere</span>')
    return Markup(", ").join(
        Markup(f'<a href="/workloads?namespace={escape(r["namespace"])}">{escape(r["namespace"])}/{escape(r["name"])}</a> '
               f'({escape(r["environment"])})') for r in rows)


def when(moment: datetime | str | None, now: datetime) -> Markup:
    if not moment:
        return Markup("")
    shown = escape(timefmt.utc(moment))
    return Markup(f'<time datetime="{escape(moment)}" title="{shown}">{shown}</time> '
                  f'<span class="age">({escape(timefmt.relative(moment, now))})</span>')
