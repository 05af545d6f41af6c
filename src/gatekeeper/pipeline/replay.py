"""Replay recorded decisions: the stored OPA input on the stored policy bundle (or on other
policies), on the OPA at hand, compared with what the log recorded (README "Replay a decision").

Both stored parts are checked against their digests before use: the input against the
record's `input_digest`, the bundle against the policy revision it is stored under (the
record's `policy_revision`). One throw-away OPA per distinct bundle (or one for
`--policy-dir`), its inputs asked in batch queries.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.opa import bundle
from gatekeeper.opa.client import PolicyEngine, PolicyError
from gatekeeper.opa.server import OpaServer, OpaStartError
from gatekeeper.types.canonical import canonical_json
from gatekeeper.types.decision import Decision

Status = Literal["identical", "differs", "unreplayable", "tampered"]
# Batch evaluation of many inputs on a busy machine: not the admission budget.
REPLAY_TIMEOUT_S = 120.0


class Tampered(Exception):
    """A stored input or bundle that no longer matches its digest (the message names it)."""


@dataclass
class Replayed:
    record: AuditRecord
    status: Status
    lines: list[str] = field(default_factory=list)  # the differences, or why it could not be replayed


@dataclass
class _Pending:
    record: AuditRecord
    input: dict[str, Any]


class Replayer:
    """Replays records from `store`; `policy_dir` replays on those policies instead of each
    record's stored bundle. `note` hears about OPA versions that differ from the recorded."""

    def __init__(self, store: AuditStore, *, policy_dir: Path | None = None, opa_binary: str | None = None,
                 note: Callable[[str], None] = lambda line: None) -> None:
        self.store = store
        self.policy_dir = policy_dir
        self.opa_binary = opa_binary
        self.note = note
        self._work = tempfile.TemporaryDirectory(prefix="gatekeeper-replay-")
        # One throw-away OPA per bundle, kept across calls (a range is replayed a page at a time).
        self._opas: dict[str, tuple[OpaServer, PolicyEngine]] = {}

    async def replay(self, records: list[AuditRecord]) -> list[Replayed]:
        """Each record's replay, in the order given. Raises Tampered at the first stored part
        that fails its digest (nothing replayed from a tampered store counts)."""
        done: dict[str, Replayed] = {}
        pending: dict[str, list[_Pending]] = {}
        wanted = [r.input_digest for r in records if r.input_digest and not r.pruned]
        try:
            stored = await self.store.inputs(wanted) if wanted else {}
        except AuditStoreError as exc:
            raise Tampered(exc.reason) from None
        for record in records:
            why = _unreplayable(record, stored)
            if isinstance(why, str):
                done[record.decision_id] = Replayed(record, "unreplayable", [why])
            else:
                key = "" if self.policy_dir else record.policy_revision
                pending.setdefault(key, []).append(_Pending(record, why))
        for revision, group in pending.items():
            for item in await self._replay_group(revision, group):
                done[item.record.decision_id] = item
        return [done[record.decision_id] for record in records]

    async def close(self) -> None:
        for server, engine in self._opas.values():
            await engine.close()
            server.stop()
        self._opas.clear()
        self._work.cleanup()

    async def __aenter__(self) -> Replayer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _replay_group(self, revision: str, group: list[_Pending]) -> list[Replayed]:
        if revision in self._opas:
            engine = self._opas[revision][1]
        elif self.policy_dir is not None:
            engine = await self._start(revision, self.policy_dir, None)
        else:
            stored = await self.store.bundle(revision)
            if stored is None:
                why = f"no bundle of its policy revision {revision} is in the store"
                return [Replayed(item.record, "unreplayable", [why]) for item in group]
            try:
                holds = bundle.digest_of(stored.bundle)
            except bundle.BundleError as exc:
                raise Tampered(f"the stored bundle of policy revision {revision} was changed: {exc}") from None
            if holds != revision:
                raise Tampered(f"the stored bundle of policy revision {revision} was changed: it holds {holds}")
            source = Path(self._work.name) / f"bundle-{len(self._opas)}.tar.gz"
            source.write_bytes(stored.bundle)
            engine = await self._start(revision, source, stored.opa_version)
        inputs = [item.input for item in group]
        results = [await engine.decide(inputs[0])] if len(inputs) == 1 else await engine.decide_many(inputs)
        return [compare(item.record, result) for item, result in zip(group, results, strict=True)]

    async def _start(self, key: str, source: Path, recorded_version: str | None) -> PolicyEngine:
        server = OpaServer(source, binary=self.opa_binary)
        try:
            server.start()
        except OpaStartError as exc:
            raise PolicyError(f"cannot start OPA on {source}: {exc}") from None
        engine = PolicyEngine(server.url, timeout=REPLAY_TIMEOUT_S)
        self._opas[key] = (server, engine)
        version = await engine.version()
        if recorded_version and version != recorded_version:
            self.note(f"OPA {version} replays decisions that OPA {recorded_version} made (policy revision {key})")
        return engine


def _unreplayable(record: AuditRecord, stored: dict[str, dict[str, Any]]) -> str | dict[str, Any]:
    """The record's stored input, or why there is none to replay."""
    if record.pruned:
        return "its record was pruned (audit prune): the input went with it"
    if not record.input_digest:
        if record.reason:
            return f"it was answered without a policy evaluation ({record.reason}): there is no input"
        if record.error:
            return f"no input was stored with it (it records an error: {record.error})"
        return "it was recorded before the gate kept OPA inputs (no input_digest)"
    if record.input_digest not in stored:
        return f"its input {record.input_digest} is not in the store (pruned)"
    return stored[record.input_digest]


def compare(record: AuditRecord, result: Any) -> Replayed:
    """The recorded decision against OPA's replayed decision document."""
    try:
        replayed = Decision.model_validate(result)
    except ValueError:
        return Replayed(record, "differs", ["OPA's answer is not a decision document"])
    before, after = _outcome(record), _outcome(replayed)
    if canonical_json(before) == canonical_json(after):
        return Replayed(record, "identical")
    lines = []
    if record.error:
        lines.append(f"the recorded decision was not OPA's: {record.error}")
    if record.allowed != replayed.allowed:
        lines.append(f"allowed flipped: {_allowed(record.allowed)} -> {_allowed(replayed.allowed)}")
    for kind in ("violations", "waived"):
        gone = sorted(set(before[kind]) - set(after[kind]))
        added = sorted(set(after[kind]) - set(before[kind]))
        noun = "requirement" if kind == "violations" else "waived requirement"
        lines.extend(f"{noun} gone: {_label(key)}" for key in gone)
        lines.extend(f"{noun} added: {_label(key)}" for key in added)
    lines.extend(f"warning gone: {w}" for w in sorted(set(before["warnings"]) - set(after["warnings"])))
    lines.extend(f"warning added: {w}" for w in sorted(set(after["warnings"]) - set(before["warnings"])))
    for name in ("enforcement", "models"):
        if canonical_json(before[name]) != canonical_json(after[name]):
            lines.append(f"{name} changed: {_short(before[name])} -> {_short(after[name])}")
    changed = [key for key in before["violations"] if key in after["violations"]
               and canonical_json(before["violations"][key]) != canonical_json(after["violations"][key])]
    lines.extend(f"requirement {_label(key)}: {_detail(before['violations'][key], after['violations'][key])}"
                 for key in changed)
    return Replayed(record, "differs", lines or ["the decisions differ"])


def _outcome(decision: AuditRecord | Decision) -> dict[str, Any]:
    """What OPA decided, as both the record and a fresh decision hold it."""
    def keyed(items: list[Any]) -> dict[str, Any]:
        return {f"{v.requirement}\0{v.model}@{v.version}": v.model_dump(mode="json") for v in items}

    return {
        "allowed": decision.allowed,
        "enforcement": decision.enforcement,
        "models": [m.model_dump(mode="json") for m in decision.models],
        "violations": keyed(decision.violations),
        "waived": keyed(decision.waived),
        "warnings": list(decision.warnings),
    }


def _allowed(allowed: bool) -> str:
    return "allowed" if allowed else "denied"


def _label(key: str) -> str:
    requirement, _, model = key.partition("\0")
    return requirement if model == "@" else f"{requirement} ({model})"


def _short(value: Any) -> str:
    text = canonical_json(value).decode()
    return text if len(text) <= 120 else text[:117] + "..."


def _detail(before: dict[str, Any], after: dict[str, Any]) -> str:
    fields = [name for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    return "; ".join(f"{name} {_short(before.get(name))} -> {_short(after.get(name))}" for name in fields)
