"""The one pipeline: objects -> served models -> evidence -> OPA -> decisions.

The webhook and the CLI both call `Gate.evaluate`; neither re-implements a step.
Rego decides; this module gathers facts and fails closed when a component fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from gatekeeper import metrics
from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.evidence.lookup import TTLCache
from gatekeeper.evidence.facts import evidence_facts
from gatekeeper.evidence.signing.statements import TrustStore, rfc3339
from gatekeeper.evidence.source import EvidenceError, EvidenceSource
from gatekeeper.types.decision import Decision, DecidedModel, ModelRef, ObjectRef, Report, Skipped, SourceLocation
from gatekeeper.opa.server import OpaServer
from gatekeeper.opa.client import PolicyEngine, PolicyError
from gatekeeper.pipeline.workloads import ServedModels, served_models


T = TypeVar("T")


class UnknownEnvironment(ValueError):
    """An environment the requirement matrix does not define."""


@dataclass
class ReviewContext:
    """Who asks and how: admission request metadata, or a CLI run."""

    operation: str = "CREATE"
    request_uid: str | None = None
    user: str | None = None
    dry_run: bool = False
    source: str = "cli"


@dataclass
class Manifest:
    """One object to judge and where it came from (CLI input) if anywhere."""

    object: dict[str, Any]
    source: SourceLocation | None = None


@dataclass
class Evaluation:
    report: Report
    # Lines naming what could not be evaluated (bad evidence, unreachable source or OPA);
    # the CLI exits 2 when there are any, the webhook has already failed closed.
    problems: list[str] = field(default_factory=list)


@dataclass
class _ModelFacts:
    entry: dict[str, Any]
    digest: str = ""
    problem: str | None = None
    revision: str = ""  # the source's version marker the facts were built from


class Gate:
    def __init__(
        self,
        engine: PolicyEngine,
        source: EvidenceSource,
        *,
        evidence_timeout: float = 1.0,
        cache_ttl: float = 30.0,
        audit: AuditStore | None = None,
    ) -> None:
        self.engine = engine
        self.source = source
        self.audit = audit
        self.opa_server: OpaServer | None = None  # set when the gate started OPA itself
        self.evidence_timeout = evidence_timeout
        self.trust = TrustStore({})
        self.policy_revision = ""
        self.enforcement: dict[str, str] = {}
        # A source whose aliases move often (a registry) asks for a shorter alias TTL;
        # 0 resolves on every lookup, concurrent lookups still sharing one request.
        alias_ttl = min(cache_ttl, float(getattr(source, "alias_ttl", cache_ttl)))
        self._aliases: TTLCache[ModelRef] = TTLCache(alias_ttl)
        self._evidence: TTLCache[_ModelFacts] = TTLCache(cache_ttl)
        slots = getattr(source, "max_concurrency", None)
        self._source_slots = asyncio.Semaphore(int(slots)) if slots else None

    async def refresh_policy(self) -> None:
        """Read what OPA has loaded: the revision, the environments, the trusted keys."""
        revision = await self.engine.revision()
        if revision != self.policy_revision:
            self._evidence.clear()  # facts embed trust decisions made under the old data
        self.policy_revision = revision
        matrix = await self.engine.data("gatekeeper/matrix") or {}
        self.enforcement = {
            name: str((settings or {}).get("enforcement", "deny"))
            for name, settings in (matrix.get("environments") or {}).items()
        }
        self.trust = TrustStore.from_data(await self.engine.data("gatekeeper/signers") or {})

    def check_environment(self, environment: str) -> None:
        if environment not in self.enforcement:
            known = ", ".join(sorted(self.enforcement)) or "none"
            raise UnknownEnvironment(f"unknown environment '{environment}' (the requirement matrix defines: {known})")

    async def evaluate(
        self, manifests: list[Manifest], environment: str, context: ReviewContext | None = None
    ) -> Evaluation:
        context = context or ReviewContext()
        self.check_environment(environment)
        now = rfc3339(datetime.now(timezone.utc))
        evaluation = Evaluation(report=Report(allowed=True, results=[]))
        gated: list[tuple[Manifest, ServedModels, list[_ModelFacts]]] = []
        for manifest in manifests:
            served = served_models(manifest.object)
            if not served.gated:
                reason = "kind is not gated" if served.object.kind else "not a Kubernetes object"
                if served.object.kind in ("Deployment", "StatefulSet"):
                    reason = "no model-gatekeeper.io/model annotation"
                evaluation.report.skipped.append(Skipped(object=served.object, reason=reason, source=manifest.source))
                continue
            gated.append((manifest, served, []))

        # Evidence for every distinct model reference, concurrently; the cache collapses repeats.
        # Keyed by everything a model entry holds: two workloads naming one version with
        # different storage URIs or risk annotations each keep their own.
        refs = {_entry_key(model): model for _, served, _ in gated for model in served.models}
        facts = dict(zip(refs, await _all(self._facts(model) for model in refs.values())))
        inputs = []
        for manifest, served, model_facts in gated:
            model_facts.extend(facts[_entry_key(model)] for model in served.models)
            inputs.append(self._input(served, model_facts, environment, context, now))
            evaluation.problems.extend(
                f"{_where(manifest)}{f.problem}" for f in model_facts if f.problem
            )
            if served.malformed_reference:
                evaluation.problems.extend(f"{_where(manifest)}{error}" for error in served.reference_errors)

        failure = ""
        try:
            with metrics.OPA_SECONDS.time():
                results = await (self.engine.decide_many(inputs) if len(inputs) > 1 else self._decide_one(inputs))
        except PolicyError as exc:
            metrics.ERRORS.labels("opa").inc()
            results = [None] * len(inputs)
            evaluation.problems.append(str(exc))
            failure = str(exc)
        for (manifest, served, model_facts), result in zip(gated, results):
            decision = (
                self._decision(result, model_facts, manifest)
                if result is not None
                else self._fail_closed(served.object, [f.entry for f in model_facts], environment, context, failure,
                                       manifest.source)
            )
            evaluation.report.results.append(decision)
        if self.audit is not None and evaluation.report.results:
            await self._record(evaluation.report.results, context)
        evaluation.problems = list(dict.fromkeys(evaluation.problems))
        evaluation.report.allowed = all(decision.allowed for decision in evaluation.report.results)
        return evaluation

    async def record(self, record: AuditRecord) -> None:
        """Log a review answered without an evaluation (over budget, nothing to judge).

        Raises AuditStoreError: the caller fails closed, as `evaluate` does.
        """
        if self.audit is not None:
            with metrics.AUDIT_SECONDS.time():
                await self.audit.append(record)

    async def _record(self, decisions: list[Decision], context: ReviewContext) -> None:
        """Durably log every decision before it is answered; fail closed when the log cannot."""
        assert self.audit is not None
        records = [
            AuditRecord.from_decision(d, request_uid=context.request_uid, user=context.user,
                                      dry_run=context.dry_run, source=context.source)  # type: ignore[arg-type]
            for d in decisions
        ]
        try:
            with metrics.AUDIT_SECONDS.time():
                await _all(self.audit.append(record) for record in records)
        except AuditStoreError as exc:
            metrics.ERRORS.labels("audit").inc()
            failure = f"the decision could not be recorded: {exc}"
            for index, decision in enumerate(decisions):
                if decision.allowed:
                    decisions[index] = self._fail_closed(
                        decision.object, [m.model_dump() for m in decision.models], decision.environment,
                        context, failure, decision.source, decision.decision_id,
                    )

    async def _decide_one(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [await self.engine.decide(inputs[0])] if inputs else []

    async def _facts(self, model: ModelRef) -> _ModelFacts:
        entry: dict[str, Any] = {
            "ref": model.ref, "name": model.name, "version": model.version, "alias": model.alias,
            "declared_risk_class": model.declared_risk_class, "storage_uri": model.storage_uri,
            "evidence_error": None, "evidence": None, "signoffs": [], "waivers": [],
        }
        try:
            if model.version is None:
                alias_key = ("alias", model.name, model.alias)
                resolved = await self._aliases.get(alias_key, lambda: self._call(lambda: self.source.resolve(model)))
                entry["version"] = resolved.version
                model = resolved
            loaded = await self._cached_facts(model)
        except EvidenceError as exc:
            entry["evidence_error"] = {"kind": exc.kind, "message": exc.message}
            problem = exc.message if exc.kind in ("unreadable", "unavailable") else None
            return _ModelFacts(entry=entry, problem=problem)
        except TimeoutError:
            metrics.ERRORS.labels(f"evidence:{self.source.name}").inc()
            message = f"evidence source {self.source.name} did not answer within {self.evidence_timeout:g}s"
            entry["evidence_error"] = {"kind": "unavailable", "message": message}
            return _ModelFacts(entry=entry, problem=message)
        entry.update(loaded.entry)
        return _ModelFacts(entry=entry, digest=loaded.digest)

    async def _cached_facts(self, model: ModelRef) -> _ModelFacts:
        """Facts for one version from the TTL cache, reloaded early when the source has since
        shown a newer revision of that version (e.g. an alias lookup saw a tag set on it)."""
        key = (model.name, model.version)
        facts = await self._evidence.get(key, lambda: self._call(lambda: self._load(model)))
        hint = getattr(self.source, "revision_hint", None)
        expected = hint(model) if hint is not None else None
        if expected and facts.revision and expected != facts.revision:
            self._evidence.invalidate(key)
            facts = await self._evidence.get(key, lambda: self._call(lambda: self._load(model)))
        return facts

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """One request to the evidence source, within the evidence timeout. A source that asks
        for it (`max_concurrency`, a registry) gets at most that many calls at once, so a CI run
        over many models does not queue hundreds of requests on it; the wait for a slot is not
        part of the timeout (the webhook's response budget bounds it)."""
        async with self._source_slots or contextlib.nullcontext():
            async with asyncio.timeout(self.evidence_timeout):
                return await make()

    async def _load(self, model: ModelRef) -> _ModelFacts:
        with metrics.EVIDENCE_SECONDS.labels(self.source.name).time():
            loaded = await self.source.load(model)
        facts = evidence_facts(loaded, self.trust)
        digest = facts.pop("evidence_digest")
        return _ModelFacts(entry=facts, digest=digest, revision=loaded.revision)

    @staticmethod
    def _input(served: ServedModels, facts: list[_ModelFacts], environment: str, context: ReviewContext, now: str) -> dict[str, Any]:
        return {
            "now": now,
            "environment": environment,
            "operation": context.operation,
            "object": served.object.model_dump(by_alias=True),
            "models": [f.entry for f in facts],
            "reference_errors": [{"message": message} for message in served.reference_errors],
        }

    def _decision(self, result: dict[str, Any], facts: list[_ModelFacts], manifest: Manifest) -> Decision:
        decision = Decision.model_validate(result)
        decision.policy_revision = self.policy_revision
        decision.decision_id = uuid.uuid4().hex
        decision.evidence_digest = _combined_digest(facts)
        decision.source = manifest.source
        return decision

    def _fail_closed(
        self, obj: ObjectRef, models: list[dict[str, Any]], environment: str, context: ReviewContext,
        failure: str, source: SourceLocation | None, decision_id: str | None = None,
    ) -> Decision:
        """A component failed: deny where the environment enforces, admit with a warning elsewhere."""
        enforcement = self.enforcement.get(environment, "deny")
        return Decision(
            object=obj, environment=environment, operation=context.operation,
            allowed=enforcement != "deny", enforcement=enforcement,  # type: ignore[arg-type]
            models=[DecidedModel(ref=m["ref"], name=m["name"], version=m["version"]) for m in models],
            warnings=[f"policy not enforced: {failure}"] if enforcement != "deny" else [],
            policy_revision=self.policy_revision, decision_id=decision_id or uuid.uuid4().hex,
            error=failure, source=source,
        )


async def _all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """asyncio.gather, without a task per item when there is only one (a single review)."""
    pending = list(awaitables)
    if len(pending) == 1:
        return [await pending[0]]
    return list(await asyncio.gather(*pending))


def _entry_key(model: ModelRef) -> tuple[str, str | None, str | None]:
    return (model.ref, model.storage_uri, model.declared_risk_class)


def _combined_digest(facts: list[_ModelFacts]) -> str:
    if len(facts) == 1:
        return facts[0].digest
    digest = hashlib.sha256("".join(f.digest for f in facts).encode())
    return "sha256:" + digest.hexdigest()


def _where(manifest: Manifest) -> str:
    return f"{manifest.source.file}:{manifest.source.line}: " if manifest.source else ""
