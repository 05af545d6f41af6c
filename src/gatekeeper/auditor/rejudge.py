"""One audit cycle: read the gated workloads of governed namespaces from the watch cache,
re-judge those that are due through the pipeline, and publish what changed.

The cache (watch.py) lists each collection once and then follows its watch; a cycle lists
nothing unless a watch broke. A workload is due when it is new or changed (its
resourceVersion), when the policy revision changed, when the evidence of a model it
serves changed (the source's digest, through the lookup's TTL cache), when a sign-off or
waiver it rests on expired, when its last re-judgement failed, when it is known only from
its report (a restart, memory.py), or when a full resync falls due. Due workloads are
judged in batches per environment (one OPA batch query per batch), and their reports,
Events and records are written a few at a time; a report whose content did not change is
not rewritten.

Fail closed: when OPA cannot decide, the report keeps its last results plus an error
result, the compliant gauge keeps its value and the failure is counted; the workload is
retried next cycle. When the Kubernetes API is down, the cycle is counted as failed, and
a workload whose report or Event could not be written is retried.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.auditor import memory, policyreports, signals
from gatekeeper.auditor.client import Cluster, ClusterError, Resource
from gatekeeper.auditor.lease import Elector
from gatekeeper.auditor.memory import Judged
from gatekeeper.auditor.watch import Cache
from gatekeeper.opa.client import PolicyError
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext, UnknownEnvironment
from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL, ownership, served_models
from gatekeeper.types.decision import Decision

DEFAULT_RESYNC = timedelta(minutes=10)
BATCH = 100  # workloads per OPA batch query (the gate's own batch size for a CI run)
WRITERS = 8  # workloads published at once: their reports, Events and records


@dataclass
class CycleResult:
    leader: bool = True  # False: another replica holds the lease; nothing was done
    judged: dict[str, str] = field(default_factory=dict)  # "<ns>/<kind>/<name>" -> trigger
    removed: list[str] = field(default_factory=list)
    failure: str = ""


class Auditor:
    def __init__(self, gate: Gate, cluster: Cluster, *, audit: AuditStore | None = None,
                 resync: timedelta = DEFAULT_RESYNC, elector: Elector | None = None) -> None:
        assert gate.audit is None, "the auditor records only changes; the gate must not record every judgement"
        self.gate = gate
        self.cluster = cluster
        self.audit = audit
        self.resync = resync
        self.elector = elector  # None: the only replica (the CLI, a single-replica Deployment)
        self.cache = Cache(cluster)
        self.state: dict[str, Judged] = {}  # by workload uid
        self._seeded = False  # the state was read back from the reports (once per leadership)
        self._inputs: dict[str, Any] = {}  # decision id -> its OPA input, while its batch is published

    def resources(self) -> list[Resource]:
        """Where to list each gated kind: the serving-kinds table of the loaded policy."""
        assert self.gate.kinds is not None
        return [Resource(group=k.group, version=k.versions[0], plural=k.resource, kind=k.kind)
                for k in self.gate.kinds.kinds.values() if k.resource and k.versions]

    def close(self) -> None:
        """Stop watching (the watch threads end); the cluster client is the caller's."""
        self.cache.stop()

    async def cycle(self) -> CycleResult:
        result = CycleResult()
        now = self.gate.clock()
        if self.elector is not None:
            try:
                result.leader = await self.elector.lead(now)
            except ClusterError as exc:
                signals.FAILURES.labels("kubernetes").inc()
                result.leader, result.failure = False, f"kubernetes: {exc}"
            if not result.leader:
                self._forget()
                return result
        try:
            await self.gate.refresh_policy()  # a new policy revision makes every workload due
        except PolicyError as exc:
            signals.FAILURES.labels("opa").inc()
            result.failure = f"policy: {exc}"  # judgements below fail closed and are retried
        try:
            label = self.gate.kinds.label_key if self.gate.kinds else ENVIRONMENT_LABEL
            await self.cache.sync(Cluster.namespaces(label), [Cluster.workloads(r) for r in self.resources()],
                                  now, self.resync)
            if not self._seeded:
                self._seed(now)
            namespaces = self.cache.namespaces(label)
            due, seen = [], set()
            for obj in self.cache.workloads():
                meta = obj.get("metadata") or {}
                environment = namespaces.get(meta.get("namespace", ""))
                if environment is None or self._owned(obj):
                    continue
                seen.add(meta["uid"])
                trigger = self._due(obj, now) or await self._evidence_changed(obj)
                if trigger:
                    due.append((obj, environment, trigger))
            await self._judge_all(due, now, result)
            result.removed = await self._remove_gone(seen)
        except ClusterError as exc:
            signals.FAILURES.labels("kubernetes").inc()
            result.failure = f"kubernetes: {exc}"
        return result

    def _forget(self) -> None:
        """A follower forgets what it judged (and stops exporting it and watching): the
        leader publishes; when this replica takes over it reads the reports back."""
        for judged in self.state.values():
            for gauge, labels in judged.gauges:
                gauge.remove(*labels)
        self.state.clear()
        self.cache.stop()
        self._seeded = False

    def _seed(self, now: datetime) -> None:
        for report in self.cache.reports.items.values():
            known = memory.seeded(report, now)
            if known and known[0] not in self.state:
                self.state[known[0]] = known[1]
        self._seeded = True

    def _owned(self, obj: dict[str, Any]) -> bool:
        """Judged through its owner, as admission's served_models decides (nothing running a
        model server added since); the owner's own report covers it."""
        assert self.gate.kinds is not None
        row = self.gate.kinds.row_of(obj)
        if row is None:
            return False
        owner, added = ownership(self.gate.kinds, obj, row)
        return owner is not None and owner.counts and added is None

    def _due(self, obj: dict[str, Any], now: datetime) -> str:
        state = self.state.get(obj["metadata"]["uid"])
        if state is None:
            return "new"
        if state.seeded:
            return "restart"
        if state.resource_version != obj["metadata"].get("resourceVersion"):
            return "changed"
        if state.policy_revision != self.gate.policy_revision:
            return "policy"
        if state.failed:
            return "retry"
        if state.next_expiry is not None and state.next_expiry <= now:
            return "expiry"
        if now - state.judged_at >= self.resync:
            return "resync"
        return ""

    async def _evidence_revision(self, state: Judged) -> tuple[str, ...]:
        """The digest of the evidence of each model the workload serves, through the gate's
        evidence lookup (its TTL cache: a file source is re-read at most once per TTL)."""
        return tuple([(await self.gate.lookup.find(model)).digest for model in state.models])

    async def _evidence_changed(self, obj: dict[str, Any]) -> str:
        state = self.state.get(obj["metadata"]["uid"])
        if state is None or state.failed or not state.models:
            return ""
        return "evidence" if await self._evidence_revision(state) != state.evidence else ""

    async def _judge_all(self, due: list[tuple[dict[str, Any], str, str]], now: datetime,
                         result: CycleResult) -> None:
        """Judge in batches per environment, OPA deciding the next batch while this one is
        published a few workloads at a time. A failure to write to the API ends the cycle
        once its batch is done; whatever could not be published is retried next cycle."""
        by_environment: dict[str, list[tuple[dict[str, Any], str]]] = {}
        for obj, environment, trigger in due:
            by_environment.setdefault(environment, []).append((obj, trigger))
        writers = asyncio.Semaphore(WRITERS)

        async def publish(obj: dict[str, Any], decided: Decision | str | None) -> None:
            async with writers:
                await self._publish(obj, decided, now)

        batches = [(environment, entries[start:start + BATCH]) for environment, entries in by_environment.items()
                   for start in range(0, len(entries), BATCH)]
        deciding = self._decide_next(batches, 0)
        for n, (environment, batch) in enumerate(batches):
            for obj, trigger in batch:
                signals.JUDGED.labels(trigger).inc()
                meta = obj["metadata"]
                result.judged[f"{meta['namespace']}/{obj['kind']}/{meta['name']}"] = trigger
            decided = await deciding  # type: ignore[misc]
            deciding = self._decide_next(batches, n + 1)
            try:
                outcomes = await asyncio.gather(*(publish(obj, decided.get(_ref(obj))) for obj, _ in batch),
                                                return_exceptions=True)
            finally:
                for judged in decided.values():
                    if isinstance(judged, Decision):
                        self._inputs.pop(judged.decision_id, None)
            for failure in outcomes:
                if isinstance(failure, BaseException):
                    if deciding is not None:
                        deciding.cancel()
                    raise failure

    def _decide_next(self, batches: list[tuple[str, list[tuple[dict[str, Any], str]]]],
                     n: int) -> asyncio.Task[dict[tuple[str, ...], Decision | str]] | None:
        if n >= len(batches):
            return None
        environment, batch = batches[n]
        return asyncio.ensure_future(self._decide([obj for obj, _ in batch], environment))

    async def _decide(self, objs: list[dict[str, Any]], environment: str) -> dict[tuple[str, ...], Decision | str]:
        """Each object's decision (by its reference), or why it could not be judged; an
        object with neither serves no model (a Deployment of something else)."""
        try:
            evaluation = await self.gate.evaluate([Manifest(o) for o in objs], environment,
                                                  ReviewContext(source="background"))
        except UnknownEnvironment as exc:
            return {_ref(o): str(exc) for o in objs}
        # kept for the background record, so `policy impact --from-log` can replay it
        self._inputs.update((d.decision_id, i) for d, i in zip(evaluation.report.results, evaluation.inputs) if i)
        return {(d.object.api_version, d.object.kind, d.object.namespace or "", d.object.name): d
                for d in evaluation.report.results}

    async def _publish(self, obj: dict[str, Any], decided: Decision | str | None, now: datetime) -> None:
        meta = obj["metadata"]
        state = Judged(resource_version=meta.get("resourceVersion", ""), policy_revision=self.gate.policy_revision,
                       judged_at=now).after(self.state.get(meta["uid"]))
        self.state[meta["uid"]] = state
        if decided is None:
            return  # not a model server after all: nothing to report
        try:
            if isinstance(decided, str) or decided.error:
                await self._failed(obj, state, decided if isinstance(decided, str) else str(decided.error),
                                   "policy" if isinstance(decided, str) else "opa", now)
                return
            await self._concluded(obj, state, decided, now)
        except ClusterError:
            state.failed = True  # retried next cycle: the report, the Event or both are not written
            raise

    async def _concluded(self, obj: dict[str, Any], state: Judged, decision: Decision, now: datetime) -> None:
        meta = obj["metadata"]
        assert self.gate.kinds is not None
        if state.models_of != (state.resource_version, state.policy_revision):  # (a resync: as it was)
            state.models = tuple(served_models(obj, self.gate.kinds).models)
            state.models_of = (state.resource_version, state.policy_revision)
        state.results = policyreports.results_of(decision, now)
        written = policyreports.policy_report(obj, state.results, decision)
        state.annotations = written["metadata"]["annotations"]
        await self._write(state, written)
        compliant = not decision.violations
        known = state.compliant
        if known != compliant and (known is not None or not compliant):  # a change, or non-compliant from the start
            await self.cluster.create_event(meta["namespace"], signals.event(obj, compliant, _summary(decision), now))
        state.compliant = compliant
        self._gauges(obj, decision, state, now)
        state.next_expiry = min((_parse(e.expires_at) for e in decision.expiries), default=None)
        state.evidence = await self._evidence_revision(state)
        outcome = memory.outcome(decision.allowed, compliant, [v.requirement for v in decision.violations])
        if outcome != state.outcome:
            await self._record(decision, now)
            state.outcome = outcome

    async def _failed(self, obj: dict[str, Any], state: Judged, failure: str, component: str, now: datetime) -> None:
        signals.FAILURES.labels(component).inc()
        state.failed = True
        state.results = policyreports.with_error(state.results, failure, now)
        await self._write(state, policyreports.policy_report(obj, state.results, None, state.annotations))

    async def _write(self, state: Judged, report: dict[str, Any]) -> None:
        """Write the report unless it says what the one there says (timestamps aside)."""
        said = policyreports.fingerprint(report)
        if said == state.written:
            return
        stored = await self.cluster.put_report(report, state.report_version)
        state.written, state.report_version = said, str(stored["metadata"].get("resourceVersion") or "")

    def _gauges(self, obj: dict[str, Any], decision: Decision, state: Judged, now: datetime) -> None:
        for gauge, labels in state.gauges:
            gauge.remove(*labels)
        state.gauges = []
        meta = obj["metadata"]
        where = (meta["namespace"], obj["kind"], meta["name"])
        for model in decision.models:
            key = (model.name, model.version or "")
            if model.risk_class:
                state.risk_classes[key] = model.risk_class
            labels = (*where, *key, state.risk_classes.get(key, "unclassified"))
            signals.COMPLIANT.labels(*labels).set(1 if state.compliant else 0)
            state.gauges.append((signals.COMPLIANT, labels))
        for e in decision.expiries:
            labels = (*where, e.model, e.version, e.kind, e.name)
            signals.EXPIRY_SECONDS.labels(*labels).set((_parse(e.expires_at) - now).total_seconds())
            state.gauges.append((signals.EXPIRY_SECONDS, labels))

    async def _record(self, decision: Decision, now: datetime) -> None:
        if self.audit is None:
            return
        record = AuditRecord.from_decision(decision, request_uid=None, user=None, dry_run=False, source="background")
        try:
            await self.audit.append(record.model_copy(update={"time": now}), self._inputs.get(decision.decision_id))
        except AuditStoreError:
            signals.FAILURES.labels("audit").inc()  # the report and gauges still show it

    async def _remove_gone(self, seen: set[str]) -> list[str]:
        """Reports whose workload is gone. Kubernetes' garbage collector deletes them through
        the owner reference too; deleting here covers a report left by an earlier replica."""
        removed = []
        reports = self.cache.reports.items
        for report_uid, report in list(reports.items()):
            uid = (report.get("scope") or {}).get("uid")
            if uid in seen:
                continue
            meta = report["metadata"]
            await self.cluster.delete_report(meta["namespace"], meta["name"])
            reports.pop(report_uid, None)  # its DELETED event may come after the next cycle
            removed.append(f"{meta['namespace']}/{meta['name']}")
            gone = self.state.pop(uid, None)
            for gauge, labels in gone.gauges if gone else []:
                gauge.remove(*labels)
        return removed


def _ref(obj: dict[str, Any]) -> tuple[str, ...]:
    meta = obj["metadata"]
    return obj["apiVersion"], obj["kind"], meta.get("namespace", ""), meta["name"]


def _summary(decision: Decision) -> str:
    if not decision.violations:
        return "meets every requirement of its model's risk class"
    return "; ".join(v.line or v.message for v in decision.violations)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
