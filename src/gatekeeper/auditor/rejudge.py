"""One audit cycle: list the gated workloads of governed namespaces, re-judge those that
are due through the pipeline, and publish what changed.

A workload is due when it is new or changed (its resourceVersion), when the policy
revision changed, when the evidence of a model it serves changed (the source's digest,
through the lookup's TTL cache), when a sign-off or waiver it rests on expired, when its
last re-judgement failed, or when a full resync falls due. Listing is one call per gated
kind; judging (evidence + OPA) happens only for what is due.

Fail closed: when OPA cannot decide, the report keeps its last results plus an error
result, the compliant gauge keeps its value and the failure is counted; the workload is
retried next cycle. When the Kubernetes API is down, the cycle is counted as failed and
nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.auditor import policyreports, signals
from gatekeeper.auditor.client import Cluster, ClusterError, Resource
from gatekeeper.auditor.lease import Elector
from gatekeeper.opa.client import PolicyError
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext, UnknownEnvironment
from gatekeeper.pipeline.workloads import served_models
from gatekeeper.types.decision import Decision

DEFAULT_RESYNC = timedelta(minutes=10)


@dataclass
class Judged:
    """What the auditor last concluded about one workload."""

    resource_version: str
    policy_revision: str
    judged_at: datetime
    compliant: bool | None = None  # None: never judged successfully
    outcome: tuple[Any, ...] | None = None  # what the decision log last recorded
    next_expiry: datetime | None = None
    evidence: tuple[str, ...] = ()  # the evidence revision judged (digest per served model)
    failed: bool = False
    results: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)  # of the last report written from a decision
    gauges: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)  # (gauge, labels) to remove
    # the last known class per model@version: evidence that cannot be read has no class,
    # and the compliant series should not change labels (and lose its history) for that
    risk_classes: dict[tuple[str, str], str] = field(default_factory=dict)


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
        self.state: dict[str, Judged] = {}  # by workload uid

    def resources(self) -> list[Resource]:
        """Where to list each gated kind: the serving-kinds table of the loaded policy."""
        rows = self.gate.facts.serving.get("kinds") or []
        return [Resource(group=str(r.get("group") or ""), version=str(r["versions"][0]), plural=str(r["resource"]),
                         kind=str(r["kind"])) for r in rows if r.get("resource") and r.get("versions")]

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
                # a follower forgets what it judged (and stops exporting it): the leader
                # publishes; when this replica takes over it starts afresh
                for judged in self.state.values():
                    for gauge, labels in judged.gauges:
                        gauge.remove(*labels)
                self.state.clear()
                return result
        try:
            await self.gate.refresh_policy()  # a new policy revision makes every workload due
        except PolicyError as exc:
            signals.FAILURES.labels("opa").inc()
            result.failure = f"policy: {exc}"  # judgements below fail closed and are retried
        try:
            label = self.gate.kinds.label_key if self.gate.kinds else None
            namespaces = await (self.cluster.governed_namespaces(label) if label else
                                self.cluster.governed_namespaces())
            workloads = [obj for resource in self.resources() for obj in await self.cluster.list_objects(resource)]
            seen = set()
            for obj in workloads:
                meta = obj.get("metadata") or {}
                environment = namespaces.get(meta.get("namespace", ""))
                if environment is None or self._owned(obj):
                    continue
                seen.add(meta["uid"])
                trigger = self._due(obj, now) or await self._evidence_changed(obj)
                if trigger:
                    signals.JUDGED.labels(trigger).inc()
                    await self._judge(obj, environment, now)
                    result.judged[f"{meta['namespace']}/{obj['kind']}/{meta['name']}"] = trigger
            result.removed = await self._remove_gone(seen)
        except ClusterError as exc:
            signals.FAILURES.labels("kubernetes").inc()
            result.failure = f"kubernetes: {exc}"
        return result

    def _owned(self, obj: dict[str, Any]) -> bool:
        """A Pod or ReplicaSet a controller made is judged through its owner (direct_only kinds)."""
        assert self.gate.kinds is not None
        group = obj["apiVersion"].rpartition("/")[0]
        row = self.gate.kinds.kind_of(group, obj["kind"])
        owners = obj["metadata"].get("ownerReferences") or []
        return bool(row and row.direct_only and any(o.get("controller") for o in owners))

    def _due(self, obj: dict[str, Any], now: datetime) -> str:
        state = self.state.get(obj["metadata"]["uid"])
        if state is None:
            return "new"
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

    async def _evidence_revision(self, obj: dict[str, Any]) -> tuple[str, ...]:
        """The digest of the evidence of each model the workload serves, through the gate's
        evidence lookup (its TTL cache: a file source is re-read at most once per TTL)."""
        assert self.gate.kinds is not None
        served = served_models(obj, self.gate.kinds)
        return tuple([(await self.gate.lookup.find(model)).digest for model in served.models])

    async def _evidence_changed(self, obj: dict[str, Any]) -> str:
        state = self.state.get(obj["metadata"]["uid"])
        if state is None or state.failed:
            return ""
        return "evidence" if await self._evidence_revision(obj) != state.evidence else ""

    async def _judge(self, obj: dict[str, Any], environment: str, now: datetime) -> None:
        meta = obj["metadata"]
        previous = self.state.get(meta["uid"])
        state = Judged(resource_version=meta.get("resourceVersion", ""), policy_revision=self.gate.policy_revision,
                       judged_at=now)
        if previous:
            state.compliant, state.outcome, state.results = previous.compliant, previous.outcome, previous.results
            state.annotations = previous.annotations
            state.gauges, state.risk_classes = previous.gauges, previous.risk_classes
        self.state[meta["uid"]] = state
        try:
            evaluation = await self.gate.evaluate([Manifest(obj)], environment, ReviewContext(source="background"))
        except UnknownEnvironment as exc:
            await self._failed(obj, state, str(exc), "policy", now)
            return
        if not evaluation.report.results:
            return  # not a model server after all (a Deployment of something else): nothing to report
        decision = evaluation.report.results[0]
        if decision.error:
            await self._failed(obj, state, decision.error, "opa", now)
            return
        state.results = policyreports.results_of(decision, now)
        written = policyreports.policy_report(obj, state.results, decision)
        state.annotations = written["metadata"]["annotations"]
        await self.cluster.put_report(written)
        compliant = not decision.violations
        known = previous.compliant if previous else None
        if known != compliant and (known is not None or not compliant):  # a change, or non-compliant from the start
            await self.cluster.create_event(meta["namespace"], signals.event(obj, compliant, _summary(decision), now))
        state.compliant = compliant
        self._gauges(obj, decision, state, now)
        state.next_expiry = min((_parse(e.expires_at) for e in decision.expiries), default=None)
        state.evidence = await self._evidence_revision(obj)
        outcome = (decision.allowed, compliant, tuple(sorted({v.requirement for v in decision.violations})))
        if outcome != state.outcome:
            await self._record(decision, now)
            state.outcome = outcome

    async def _failed(self, obj: dict[str, Any], state: Judged, failure: str, component: str, now: datetime) -> None:
        signals.FAILURES.labels(component).inc()
        state.failed = True
        state.results = policyreports.with_error(state.results, failure, now)
        await self.cluster.put_report(policyreports.policy_report(obj, state.results, None, state.annotations))

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
            await self.audit.append(record.model_copy(update={"time": now}))
        except AuditStoreError:
            signals.FAILURES.labels("audit").inc()  # the report and gauges still show it

    async def _remove_gone(self, seen: set[str]) -> list[str]:
        """Reports whose workload is gone. Kubernetes' garbage collector deletes them through
        the owner reference too; deleting here covers a report left by an earlier replica."""
        removed = []
        for report in await self.cluster.reports():
            uid = (report.get("scope") or {}).get("uid")
            if uid in seen:
                continue
            meta = report["metadata"]
            await self.cluster.delete_report(meta["namespace"], meta["name"])
            removed.append(f"{meta['namespace']}/{meta['name']}")
            gone = self.state.pop(uid, None)
            for gauge, labels in gone.gauges if gone else []:
                gauge.remove(*labels)
        return removed


def _summary(decision: Decision) -> str:
    if not decision.violations:
        return "meets every requirement of its model's risk class"
    return "; ".join(v.line or v.message for v in decision.violations)


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
