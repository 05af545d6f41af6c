"""What other policies would have said about recorded decisions (`policy impact --from-log`).

Each recorded decision keeps the exact OPA input it was decided on (content-addressed in
the audit store). That input carries the decision time (`now`) and the evidence facts as
they were then, so evaluating it again against other policies changes nothing but the
policy: the comparison is policy against policy, on real traffic.

Two sets of records are replayed, in batch queries on an OPA holding the new policies:
- the admissions of a period (source `webhook`): which would flip, admitted → denied or
  denied → admitted, or keep their answer with other violations;
- each running workload's newest background decision (source `background`, the auditor's:
  it records a workload whenever its outcome changes, so its newest record is how it
  stands now): which would become non-compliant (or compliant).

A record that cannot be replayed (written before inputs were stored, its input pruned or
missing) is counted as not replayable, and one decided without the policy (an error, or
an answer without evaluation such as a DELETE) as not judged; neither is dropped silently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gatekeeper.audit import AuditStore
from gatekeeper.audit.filters import as_utc
from gatekeeper.opa.client import PolicyEngine, PolicyError

# Records replayed per round: their inputs are read and decided together (the engine
# splits them into its own concurrent batch queries), so memory stays bounded.
ROUND = 2000

# Reads stored OPA inputs by digest; a digest it does not hold maps to None.
InputReader = Callable[[list[str]], Awaitable[dict[str, dict[str, Any] | None]]]

ADMISSION_KINDS = ("admitted_to_denied", "denied_to_admitted", "violations_changed")
WORKLOAD_KINDS = ("compliant_to_noncompliant", "noncompliant_to_compliant", "violations_changed")


@dataclass(frozen=True)
class Recorded:
    """The parts of a record the comparison needs."""

    decision_id: str
    seq: int
    time: datetime
    source: str
    environment: str
    namespace: str
    kind: str
    name: str
    models: tuple[str, ...]  # name@version
    allowed: bool
    requirements: frozenset[str]
    input_digest: str | None
    judged: bool  # decided by the policy (no error, not answered without evaluation)

    @property
    def compliant(self) -> bool:
        return not self.requirements

    @property
    def workload(self) -> tuple[str, str, str]:
        return self.namespace, self.kind, self.name

    @classmethod
    def of(cls, seq: int, time: datetime, body: dict[str, Any]) -> Recorded:
        obj = body.get("object") or {}
        models = tuple(f"{m.get('name')}@{m.get('version')}" if m.get("version") else str(m.get("name"))
                       for m in body.get("models") or [])
        return cls(
            decision_id=str(body.get("decision_id", "")), seq=seq, time=time, source=str(body.get("source", "")),
            environment=str(body.get("environment", "")), namespace=str(obj.get("namespace") or ""),
            kind=str(obj.get("kind", "")), name=str(obj.get("name", "")), models=models,
            allowed=bool(body.get("allowed")),
            requirements=frozenset(v["requirement"] for v in body.get("violations") or []),
            input_digest=body.get("input_digest") or None,
            judged=not body.get("error") and not body.get("reason"),
        )


@dataclass
class Change:
    """One recorded decision that the new policies decide differently."""

    recorded: Recorded
    kind: str  # one of ADMISSION_KINDS or WORKLOAD_KINDS
    allowed: bool  # the new answer
    appeared: list[str]  # requirement IDs violated now and not then
    vanished: list[str]  # requirement IDs violated then and not now
    lines: dict[str, str] = field(default_factory=dict)  # requirement -> the new violation's line


@dataclass
class Part:
    """The admissions of the period, or the running workloads: what was compared."""

    considered: int = 0
    replayed: int = 0
    not_replayable: dict[str, int] = field(default_factory=dict)  # why -> count
    not_judged: int = 0
    changes: list[Change] = field(default_factory=list)

    @property
    def unreplayable(self) -> int:
        return sum(self.not_replayable.values())


@dataclass
class LogImpact:
    since: datetime
    until: datetime
    policy_revision: str
    environments: list[str] | None  # None: every environment
    admissions: Part
    workloads: Part

    @property
    def changed(self) -> bool:
        return bool(self.admissions.changes or self.workloads.changes)


async def log_impact(store: AuditStore, engine: PolicyEngine, read_inputs: InputReader, *, since: datetime,
                     until: datetime, environments: Iterable[str] | None = None) -> LogImpact:
    """Replay the period's admissions and each workload's newest background decision
    against the policies `engine`'s OPA has loaded. Raises PolicyError when OPA cannot
    decide or refuses those policies, AuditStoreError when the log cannot be read."""
    facts = await engine.facts()
    if facts.problems:
        raise PolicyError(f"the new policies are refused: {facts.problems[0]} (run `gatekeeper policy test`)")
    wanted = set(environments) if environments is not None else None
    unknown = sorted((wanted or set()) - set(facts.environments))
    if unknown:
        known = ", ".join(sorted(facts.environments)) or "none"
        raise PolicyError(f"unknown environment '{unknown[0]}' (the requirement matrix defines: {known})")
    since, until = as_utc(since), as_utc(until)  # type: ignore[assignment]
    admissions, workloads = Part(), Part()
    newest: dict[tuple[str, str, str], Recorded] = {}
    pending: list[Recorded] = []
    # One pass over the log: background records of any age (a workload's newest may be old:
    # the auditor records only changes), admissions of the period.
    async for row in store.rows(until=until):
        in_period = row.time >= since  # type: ignore[operator]
        if row.pruned:
            if in_period:  # its source is gone with its body: counted where it could have been
                admissions.considered += 1
                _count(admissions, "pruned")
            continue
        body = orjson.loads(row.body)
        if wanted is not None and body.get("environment") not in wanted:
            continue
        source = body.get("source")
        if source == "background":
            record = Recorded.of(row.seq, row.time, body)
            newest[record.workload] = record
        elif source == "webhook" and in_period:
            pending.append(Recorded.of(row.seq, row.time, body))
            if len(pending) >= ROUND:
                await _replay(engine, read_inputs, pending, admissions, _admission_change)
                pending = []
    await _replay(engine, read_inputs, pending, admissions, _admission_change)
    running = sorted(newest.values(), key=lambda r: r.workload)
    for start in range(0, len(running), ROUND):
        await _replay(engine, read_inputs, running[start:start + ROUND], workloads, _workload_change)
    return LogImpact(since=since, until=until, policy_revision=facts.revision,  # type: ignore[arg-type]
                     environments=sorted(wanted) if wanted is not None else None,
                     admissions=admissions, workloads=workloads)


def _count(part: Part, why: str) -> None:
    part.not_replayable[why] = part.not_replayable.get(why, 0) + 1


async def _replay(engine: PolicyEngine, read_inputs: InputReader, records: list[Recorded], part: Part,
                  compare: Callable[[Recorded, dict[str, Any]], Change | None]) -> None:
    part.considered += len(records)
    judged = [r for r in records if r.judged]
    part.not_judged += len(records) - len(judged)
    with_input = [r for r in judged if r.input_digest]
    for _ in range(len(judged) - len(with_input)):
        _count(part, "no stored input")
    stored = await read_inputs(sorted({r.input_digest for r in with_input}))  # type: ignore[type-var]
    ready = [(r, stored[r.input_digest]) for r in with_input if stored.get(r.input_digest) is not None]  # type: ignore[index]
    for _ in range(len(with_input) - len(ready)):
        _count(part, "input missing")
    if not ready:
        return
    results = await engine.decide_many([doc for _, doc in ready])  # type: ignore[misc]
    part.replayed += len(ready)
    for (record, _), result in zip(ready, results):
        change = compare(record, result)
        if change is not None:
            part.changes.append(change)


def _violations(result: dict[str, Any]) -> dict[str, str]:
    """The requirement IDs a decision violates, each with its first violation's line."""
    if not isinstance(result, dict) or not isinstance(result.get("allowed"), bool):
        raise PolicyError("OPA returned something that is not a decision")
    lines: dict[str, str] = {}
    for v in result.get("violations") or []:
        lines.setdefault(str(v.get("requirement")), str(v.get("line") or v.get("message") or ""))
    return lines


def _difference(record: Recorded, allowed: bool, lines: dict[str, str], kind: str | None) -> Change | None:
    """The change (KIND, else other violations), or None when nothing differs."""
    appeared = sorted(set(lines) - record.requirements)
    vanished = sorted(record.requirements - set(lines))
    if kind is None and not appeared and not vanished:
        return None
    return Change(record, kind or "violations_changed", allowed, appeared, vanished, {r: lines[r] for r in appeared})


def _admission_change(record: Recorded, result: dict[str, Any]) -> Change | None:
    lines = _violations(result)
    allowed = result["allowed"]
    kind = None if allowed == record.allowed else ("admitted_to_denied" if record.allowed else "denied_to_admitted")
    return _difference(record, allowed, lines, kind)


def _workload_change(record: Recorded, result: dict[str, Any]) -> Change | None:
    lines = _violations(result)
    kind = None if (not lines) == record.compliant else (
        "compliant_to_noncompliant" if record.compliant else "noncompliant_to_compliant")
    return _difference(record, result["allowed"], lines, kind)


# --- grouping (the report's sections) -------------------------------------------------------


def grouped(changes: list[Change]) -> dict[str, dict[str, int]]:
    """How many changes per namespace, per model@version and per requirement (appeared or
    vanished): what a reviewer scans first."""
    by: dict[str, dict[str, int]] = {"namespace": {}, "model": {}, "requirement": {}}

    def add(group: str, key: str) -> None:
        by[group][key] = by[group].get(key, 0) + 1

    for change in changes:
        add("namespace", change.recorded.namespace or "(cluster)")
        for model in change.recorded.models or ("(no model)",):
            add("model", model)
        for requirement in change.appeared + change.vanished:
            add("requirement", requirement)
    return {group: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) for group, counts in by.items()}
