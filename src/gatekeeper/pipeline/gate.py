"""The one pipeline: objects -> served models -> evidence -> OPA -> decisions -> audit.

The webhook, the CLI and `gatekeeper policy impact` call `Gate.evaluate`; none
re-implements a step. This module only orchestrates: `workloads.served_models` names what
an object serves, `EvidenceLookup` finds each model's evidence, `types.policy_input` is what
OPA reads, `PolicyEngine` asks OPA, the audit store records, and `fail_closed` answers when
one of them failed. `assemble.open_gate` builds a Gate from Settings.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from gatekeeper import metrics
from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.evidence.lookup import EvidenceLookup, Found
from gatekeeper.evidence.signing.statements import rfc3339
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.types.canonical import sha256_of
from gatekeeper.opa import bundle
from gatekeeper.opa.client import PolicyEngine, PolicyError
from gatekeeper.opa.server import OpaServer
from gatekeeper.pipeline.fail_closed import fail_closed, unrecorded
from gatekeeper.pipeline.owners import OwnerUnconfirmed, Owners, made_by_hand
from gatekeeper.pipeline.serving import ServingKinds, built_in_controller
from gatekeeper.pipeline.workloads import ServedModels, served_models
from gatekeeper.types.decision import Decision, DecidedModel, ModelRef, Report, Skipped, SourceLocation
from gatekeeper.types.policy_facts import Enforcement, PolicyFacts
from gatekeeper.types.policy_input import PolicyInput, model_entry, policy_input

T = TypeVar("T")
WallClock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


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
    groups: list[str] = field(default_factory=list)
    old_object: dict[str, Any] | None = None  # UPDATE: the object before the change
    subresource: str | None = None  # the subresource an admission wrote through (`status`, `finalize`)


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
    # The OPA input each result was decided on, by position (None: decided without OPA), for
    # a front door that records decisions itself (the auditor's background records).
    inputs: list[PolicyInput | None] = field(default_factory=list)


@dataclass
class _Gated:
    """A model-serving object on its way through the pipeline."""

    manifest: Manifest
    served: ServedModels
    found: list[Found]
    failure: str = ""  # why it cannot be judged (its owner could not be confirmed)


class Gate:
    """Evaluates objects against the policies OPA has loaded. Everything it uses is given
    here (`assemble.open_gate` is where a Gate is built from Settings); `clock` is the
    time decisions are made at (`now` of the policy input), the wall clock unless a
    caller evaluates "as of" another time (`gatekeeper check --at`)."""

    def __init__(
        self,
        engine: PolicyEngine,
        lookup: EvidenceLookup,
        *,
        audit: AuditStore | None = None,
        opa_server: OpaServer | None = None,
        clock: WallClock = utc_now,
        owners: Owners | None = None,
    ) -> None:
        self.engine = engine
        self.lookup = lookup
        self.audit = audit  # None: decisions are not recorded (the CLI)
        self.opa_server = opa_server  # the OPA this gate started, which readiness restarts; None for an external one
        self.clock = clock
        # Confirms the owners objects name (the webhook's, reading the Kubernetes API); None:
        # owner references are taken as written (the CLI's manifests, the auditor's listings).
        self.owners = owners
        self.policy_revision = ""
        self.facts = PolicyFacts()  # one snapshot per policy revision, as OPA evaluated it
        self.kinds: ServingKinds | None = None  # the serving-kinds table of those facts
        self.refused: str | None = None  # why the policy OPA serves is refused (then every decision fails closed)
        self.bundled = ""  # the revision whose OPA bundle the audit store is known to hold

    async def refresh_policy(self) -> None:
        """Read what OPA has loaded: the policy facts (revision, environments, trusted keys)."""
        facts = await self.engine.facts()
        if facts.problems:
            # A matrix family no module implements, an ID without remediation: the policy
            # would pass silently what it means to check, so nothing is decided with it.
            more = len(facts.problems) - 1
            self.refused = "policy refused: " + facts.problems[0] + (
                f" (and {more} more: run `gatekeeper policy test`)" if more else "")
            raise PolicyError(self.refused)
        self.refused = None
        if facts.revision != self.policy_revision or self.kinds is None:
            # facts embed trust decisions made under the old data; the table compiles once per revision
            self.lookup.trust(TrustStore.from_data(facts.signers))
            self.kinds = ServingKinds.from_data(facts.serving)
        self.facts = facts
        self.policy_revision = facts.revision
        await self._keep_bundle()

    async def _keep_bundle(self) -> None:
        """Store the policy revision's OPA bundle in the audit store, once per revision, so
        its decisions can be replayed. Not a reason to refuse reviews: retried with the next
        record until it is stored (and a store that cannot take it fails those closed)."""
        if self.audit is None or self.bundled == self.policy_revision:
            return
        try:
            revision, modules, data = await self.engine.snapshot()
            if revision != self.policy_revision:
                return  # the policy changed since the facts were read: the next refresh stores it
            if not await self.audit.has_bundle(revision):
                await self.audit.put_bundle(revision, bundle.build(modules, data), await self.engine.version())
            self.bundled = revision
        except (PolicyError, AuditStoreError):
            return

    def enforcement_of(self, environment: str) -> Enforcement:
        """What the policy does with violations in `environment`; an unknown one is enforced."""
        return self.facts.enforcement(environment)

    def check_environment(self, environment: str) -> None:
        if environment not in self.facts.environments:
            known = ", ".join(sorted(self.facts.environments)) or "none"
            raise UnknownEnvironment(f"unknown environment '{environment}' (the requirement matrix defines: {known})")

    async def evaluate(
        self, manifests: list[Manifest], environment: str, context: ReviewContext | None = None
    ) -> Evaluation:
        context = context or ReviewContext()
        self.check_environment(environment)  # also refuses a Gate whose policy was never read
        evaluation = Evaluation(report=Report(allowed=True, results=[]))
        gated = await self._served(manifests, evaluation.report, context)
        if not gated:
            return evaluation  # nothing serves a model: no evidence, no OPA call, no record
        now = rfc3339(self.clock())
        unconfirmed = [item for item in gated if item.failure]
        gated = [item for item in gated if not item.failure]
        for item in unconfirmed:
            evaluation.problems.append(f"{_where(item.manifest)}{item.failure}")
            evaluation.report.results.append(self._decision(item, None, environment, context, item.failure))
        # The input each decision was made on, by position in the results (none for the above).
        decided_on: list[PolicyInput | None] = [None] * len(unconfirmed)

        # Evidence for every distinct model reference, concurrently; the lookup collapses repeats.
        # Keyed by everything a model entry holds: two workloads naming one version with
        # different storage URIs or risk annotations each keep their own.
        refs = {_entry_key(model): model for item in gated for model in item.served.models}
        found = dict(zip(refs, await _all(self.lookup.find(model) for model in refs.values())))
        inputs: list[PolicyInput] = []
        for item in gated:
            item.found.extend(found[_entry_key(model)] for model in item.served.models)
            entries = [model_entry(model, f.version, f.facts, f.error) for model, f in zip(item.served.models, item.found)]
            inputs.append(policy_input(now, environment, context.operation, item.served.object, entries,
                                       item.served.reference_errors, item.served.locations,
                                       self._label_change(item.served, context)))
            evaluation.problems.extend(f"{_where(item.manifest)}{f.problem}" for f in item.found if f.problem)
            if item.served.malformed_reference:
                evaluation.problems.extend(f"{_where(item.manifest)}{error}" for error in item.served.reference_errors)

        results, failure = await self._decide(inputs)
        if failure:
            evaluation.problems.append(failure)
        for item, result in zip(gated, results):
            evaluation.report.results.append(self._decision(item, result, environment, context, failure))
        decided_on.extend(inputs)
        evaluation.inputs = decided_on
        if self.audit is not None and evaluation.report.results:
            await self._record(evaluation.report.results, context, decided_on)
        evaluation.problems = list(dict.fromkeys(evaluation.problems))
        evaluation.report.allowed = all(decision.allowed for decision in evaluation.report.results)
        return evaluation

    async def _served(self, manifests: list[Manifest], report: Report, context: ReviewContext) -> list[_Gated]:
        """The objects that serve or add a model (the serving-kinds table of the policy);
        the others are reported as skipped, with why."""
        assert self.kinds is not None
        # Whose owner references to question: not Kubernetes' own controllers', nor those of
        # objects already running (the auditor's: admitted, their creator unknown).
        question = context.source != "background" and not built_in_controller(context.user)
        gated = []
        for manifest in manifests:
            served = served_models(manifest.object, self.kinds, old=context.old_object,
                                   admission=context.source == "webhook", confirm_owner=question)
            owner = served.owner  # set on gated objects only
            # An owner counts in the requests of its row's controllers only; made by anyone
            # else, the object is judged as if unowned, and a denial says why.
            if owner is not None and made_by_hand(owner, manifest.object, context.old_object, context.user):
                served.owner_not_counted(owner.not_counted(context.user))
            elif owner is not None:
                try:
                    # manifests (`gatekeeper check`, no API to read the owner): taken as written;
                    # else exempt once confirmed real (a forged one is judged as if unowned)
                    if self.owners is None or await self.owners.confirm(owner, self.kinds):
                        served.gated, served.skip_reason = False, owner.skip_reason()
                except OwnerUnconfirmed as exc:
                    gated.append(_Gated(manifest, served, [], failure=str(exc)))
                    continue
            if served.gated:
                gated.append(_Gated(manifest, served, []))
                continue
            reason = served.skip_reason or ("kind is not gated" if served.object.kind else "not a Kubernetes object")
            report.skipped.append(Skipped(object=served.object, reason=reason, source=manifest.source))
        return gated

    @staticmethod
    def _label_change(served: ServedModels, context: ReviewContext) -> dict[str, Any] | None:
        """A Namespace's environment label change, with who asks for it (the label guard)."""
        if not served.label_change:
            return None
        return {**served.label_change, "user": context.user, "groups": context.groups}

    async def _decide(self, inputs: list[PolicyInput]) -> tuple[list[dict[str, Any] | None], str]:
        """OPA's decision documents, in order; or, when OPA failed, no result and why."""
        if self.refused:
            return [None] * len(inputs), self.refused
        try:
            with metrics.OPA_SECONDS.time():
                if len(inputs) == 1:  # one review: the plain decision query
                    return [await self.engine.decide(inputs[0])], ""  # type: ignore[arg-type]
                if not inputs:
                    return [], ""
                # Batch queries: a CI run over 1,000 manifests is a few round trips, not 1,000.
                return list(await self.engine.decide_many(inputs)), ""  # type: ignore[arg-type]
        except PolicyError as exc:
            metrics.ERRORS.labels("opa").inc()
            return [None] * len(inputs), str(exc)

    def _decision(self, item: _Gated, result: dict[str, Any] | None, environment: str, context: ReviewContext,
                  failure: str) -> Decision:
        if result is None:
            models = (DecidedModel(ref=model.ref, name=model.name, version=f.version)
                      for model, f in zip(item.served.models, item.found))
            # The environment label guards the governance itself: enforced in every environment.
            enforcement = "deny" if item.served.label_change else self.enforcement_of(environment)
            return fail_closed(item.served.object, models, environment, enforcement, failure,
                               operation=context.operation, policy_revision=self.policy_revision,
                               source=item.manifest.source)
        decision = Decision.model_validate(result)
        decision.policy_revision = self.policy_revision
        decision.decision_id = uuid.uuid4().hex
        decision.evidence_digest = _combined_digest(item.found)
        decision.source = item.manifest.source
        return decision

    async def record(self, record: AuditRecord) -> None:
        """Log a review answered without an evaluation (over budget, nothing to judge).

        Raises AuditStoreError: the caller fails closed, as `evaluate` does.
        """
        if self.audit is not None:
            with metrics.AUDIT_SECONDS.time():
                await self.audit.append(record)

    async def _record(self, decisions: list[Decision], context: ReviewContext,
                      inputs: list[PolicyInput | None]) -> None:
        """Durably log every decision with the OPA input it was made on (for replay) before
        it is answered; fail closed when the log cannot."""
        assert self.audit is not None
        audit = self.audit
        await self._keep_bundle()
        records = [
            AuditRecord.from_decision(d, request_uid=context.request_uid, user=context.user,
                                      dry_run=context.dry_run, source=context.source,  # type: ignore[arg-type]
                                      subresource=context.subresource)
            for d in decisions
        ]
        try:
            with metrics.AUDIT_SECONDS.time():
                await _all(audit.append(record, input_doc)  # type: ignore[arg-type]
                           for record, input_doc in zip(records, inputs, strict=True))
        except AuditStoreError as exc:
            metrics.ERRORS.labels("audit").inc()
            failure = f"the decision could not be recorded: {exc}"
            decisions[:] = [unrecorded(d, self.enforcement_of(d.environment), failure) for d in decisions]


async def _all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """asyncio.gather, without a task per item when there is only one (a single review)."""
    pending = list(awaitables)
    if len(pending) == 1:
        return [await pending[0]]
    return list(await asyncio.gather(*pending))


def _entry_key(model: ModelRef) -> tuple[str, str | None, str | None]:
    return (model.ref, model.storage_uri, model.declared_risk_class)


def _combined_digest(found: list[Found]) -> str:
    if len(found) == 1:
        return found[0].digest
    return sha256_of(*(f.digest.encode() for f in found))


def _where(manifest: Manifest) -> str:
    return f"{manifest.source.file}:{manifest.source.line}: " if manifest.source else ""
