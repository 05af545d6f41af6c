"""`gatekeeper policy impact --from-log`: the working tree's policies against the decision
log (pipeline.log_impact), and the three ways to show it: a table for the terminal, JSON
for machines, Markdown for a pull-request comment."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gatekeeper.cli.common import fail, period_start

FORMATS = ("table", "json", "markdown")
DEFAULT_SINCE = "30d"
# A pull-request comment holds at most 65,536 characters: past this many rows per part
# the Markdown says how many more there are (the JSON has them all).
MARKDOWN_ROWS = 100


_TEXT = {
    "admitted_to_denied": "ADMITTED → DENIED",
    "denied_to_admitted": "DENIED → ADMITTED",
    "compliant_to_noncompliant": "BECOMES NON-COMPLIANT",
    "noncompliant_to_compliant": "BECOMES COMPLIANT",
    "violations_changed": "violations change",
}


def run(*, audit_db: str, policy_dir: Path, since: str, environments: list[str] | None,
        now: datetime) -> Any:
    """Replay the log against POLICY_DIR on a throw-away OPA; the LogImpact, or exit 2."""
    from gatekeeper.audit import AuditStoreError, open_store
    from gatekeeper.opa.client import PolicyEngine, PolicyError
    from gatekeeper.opa.server import OpaServer, OpaStartError
    from gatekeeper.pipeline.log_impact import log_impact

    start = period_start(since, now)

    async def replay() -> Any:
        store = await open_store(audit_db, create=False)
        try:
            server = OpaServer(policy_dir)
            url = await asyncio.to_thread(server.start)
            try:
                engine = PolicyEngine(url, timeout=60.0)
                try:
                    return await log_impact(store, engine, store.inputs, since=start, until=now,
                                            environments=environments)
                finally:
                    await engine.close()
            finally:
                server.stop()
        finally:
            await store.close()

    try:
        return asyncio.run(replay())
    except (AuditStoreError, OpaStartError, PolicyError) as exc:
        raise fail(str(exc)) from None


# --- rendering ----------------------------------------------------------------------------


def _stamp(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(change: Any) -> str:
    r = change.recorded
    return f"{r.namespace}/{r.kind}/{r.name}" if r.namespace else f"{r.kind}/{r.name}"


def _models(change: Any) -> str:
    return ", ".join(change.recorded.models) or "(no model)"


_RANK = {kind: n for n, kind in enumerate(_TEXT)}  # flips first, then other violations


def _ordered(changes: list[Any]) -> list[Any]:
    """Flips first; each kind by namespace, then model@version, then time."""
    return sorted(changes, key=lambda c: (_RANK[c.kind], c.recorded.namespace, c.recorded.models, c.recorded.time,
                                          c.recorded.seq))


def _counts(part: Any) -> str:
    why = ", ".join(f"{n} {reason}" for reason, n in sorted(part.not_replayable.items()))
    text = f"{part.considered} recorded, {part.replayed} replayed, {part.unreplayable} not replayable"
    text += f" ({why})" if why else ""
    return text + (f", {part.not_judged} not judged by the policy (error or no evaluation)" if part.not_judged else "")


def _summary(impact: Any) -> str:
    a = [c.kind for c in impact.admissions.changes]
    w = [c.kind for c in impact.workloads.changes]
    return (f"{len(a)} of {impact.admissions.replayed} replayed admissions change: "
            f"{a.count('admitted_to_denied')} admitted → denied, {a.count('denied_to_admitted')} denied → admitted, "
            f"{a.count('violations_changed')} with other violations; "
            f"{w.count('compliant_to_noncompliant')} of {impact.workloads.replayed} running workloads would become "
            f"non-compliant, {w.count('noncompliant_to_compliant')} compliant, "
            f"{w.count('violations_changed')} with other violations")


def _header(impact: Any, audit_db: str, since: str) -> list[str]:
    where = ", ".join(impact.environments) if impact.environments else "every environment"
    return [
        f"policy impact from the decision log {audit_db} ({where})",
        f"  period    {_stamp(impact.since)} .. {_stamp(impact.until)} (--since {since})",
        f"  policies  working tree  {impact.policy_revision}",
    ]


def render_table(impact: Any, audit_db: str, since: str) -> str:
    from gatekeeper.pipeline.log_impact import grouped

    out = _header(impact, audit_db, since)
    for title, part, when in (("admissions of the period", impact.admissions, "decided"),
                              ("running workloads (each one's newest background decision)", impact.workloads, "as of")):
        out += ["", f"{title}: {_counts(part)}"]
        for change in _ordered(part.changes):
            r = change.recorded
            state = f" (still {'admitted' if change.allowed else 'denied'})" if (
                change.kind == "violations_changed" and part is impact.admissions) else ""
            out.append(f"  {_TEXT[change.kind]}{state}  {_object(change)}  {_models(change)}  in {r.environment}  "
                       f"{when} {_stamp(r.time)}  decision {r.decision_id}")
            out += [f"    + {change.lines.get(req) or req}" for req in change.appeared]
            out += [f"    - {req}" for req in change.vanished]
        for group, counts in grouped(part.changes).items():
            if counts:
                out.append(f"  by {group}: " + ", ".join(f"{key} {n}" for key, n in counts.items()))
    out += ["", _summary(impact)]
    return "\n".join(out) + "\n"


def _change_json(change: Any) -> dict[str, Any]:
    r = change.recorded
    return {
        "change": change.kind, "decision_id": r.decision_id, "seq": r.seq, "time": _stamp(r.time),
        "environment": r.environment, "namespace": r.namespace or None, "kind": r.kind, "name": r.name,
        "models": list(r.models),
        "before": {"allowed": r.allowed, "violations": sorted(r.requirements)},
        "after": {"allowed": change.allowed,
                  "violations": sorted((r.requirements - set(change.vanished)) | set(change.appeared))},
        "appeared": change.appeared, "vanished": change.vanished, "lines": change.lines,
    }


def render_json(impact: Any, audit_db: str, since: str) -> str:
    from gatekeeper.pipeline.log_impact import grouped

    def part(p: Any) -> dict[str, Any]:
        return {"considered": p.considered, "replayed": p.replayed, "not_replayable": p.unreplayable,
                "not_replayable_by_reason": dict(sorted(p.not_replayable.items())), "not_judged": p.not_judged,
                "changed": len(p.changes), "by": grouped(p.changes),
                "changes": [_change_json(c) for c in _ordered(p.changes)]}

    document = {
        "audit_db": audit_db, "since": _stamp(impact.since), "until": _stamp(impact.until), "since_flag": since,
        "policy_revision": impact.policy_revision, "environments": impact.environments,
        "admissions": part(impact.admissions), "workloads": part(impact.workloads),
    }
    return json.dumps(document, indent=2) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(impact: Any, audit_db: str, since: str) -> str:
    from gatekeeper.pipeline.log_impact import grouped

    where = ", ".join(impact.environments) if impact.environments else "every environment"
    out = [
        "### Policy impact on the decision log",
        "",
        f"The working tree's policies (`{impact.policy_revision.split(':')[-1][:12]}`) replayed on the decisions recorded from "
        f"{_stamp(impact.since)} to {_stamp(impact.until)} (`--since {since}`), {where}.",
        "",
        f"**{_summary(impact)}.**",
    ]
    for title, part, when in (("Admissions of the period", impact.admissions, "Decided"),
                              ("Running workloads (newest background decision)", impact.workloads, "As of")):
        out += ["", f"#### {title}", "", _counts(part) + "."]
        if part.changes:
            out += ["", f"| Change | Namespace | Object | Model | Environment | {when} | Requirements |",
                    "|---|---|---|---|---|---|---|"]
            ordered = _ordered(part.changes)
            for change in ordered[:MARKDOWN_ROWS]:
                r = change.recorded
                requirements = " ".join([f"+`{q}`" for q in change.appeared] + [f"−`{q}`" for q in change.vanished])
                out.append(f"| {_TEXT[change.kind]} | {_cell(r.namespace or '(cluster)')} | "
                           f"{_cell(f'{r.kind}/{r.name}')} | {_cell(_models(change))} | {_cell(r.environment)} | "
                           f"{_stamp(r.time)} | {requirements} |")
            if len(ordered) > MARKDOWN_ROWS:
                out.append(f"\n…and {len(ordered) - MARKDOWN_ROWS} more (`--format json` lists every one).")
            for group, counts in grouped(part.changes).items():
                if counts:
                    out.append(f"\nBy {group}: " + ", ".join(f"`{_cell(k)}` {n}" for k, n in counts.items()))
    return "\n".join(out) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "markdown": render_markdown}
