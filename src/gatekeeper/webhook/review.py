"""One AdmissionReview, read, checked and answered through the pipeline (README "The webhook").

Follow a review: `read_body` and `parse_review` check the wire input, `Reviewer.review`
hands the object to `Gate.evaluate` (served models -> evidence -> OPA -> audit), the same
call the CLI makes, and `admission.from_decision` answers. Every path answers within the
budget; nothing here returns a 5xx to Kubernetes.
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson
import structlog
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from gatekeeper import metrics
from gatekeeper.audit import AuditRecord, AuditStoreError
from gatekeeper.audit.record import outcome_of
from gatekeeper.config import Settings
from gatekeeper.pipeline.fail_closed import component_of
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext, UnknownEnvironment
from gatekeeper.pipeline.owners import Owners
from gatekeeper.pipeline.workloads import object_ref, served_models
from gatekeeper.types import admission
from gatekeeper.types.admission import AdmissionReview, AdmissionReviewResponse
from gatekeeper.types.decision import Decision, ObjectRef
from gatekeeper.webhook.kube import KubeApi
from gatekeeper.webhook.namespaces import NamespaceEnvironments

log = structlog.get_logger("gatekeeper")
# The response budget (3 s) plus this stays below deploy/'s webhook timeout (5 s).
RECORD_GRACE_S = 1.0


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EvaluateRequest(BaseModel):
    environment: str = "production"
    objects: list[dict[str, Any]]


def bad_request(status: int, reason: str, metric: str) -> JSONResponse:
    metrics.BAD_REQUESTS.labels(metric).inc()
    return JSONResponse({"error": reason}, status_code=status)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes the limit: never buffered whole."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(413, f"request body of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadRequest(413, f"request body is over the {limit}-byte limit")
    return bytes(body)


def parse_review(body: bytes) -> AdmissionReview:
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(400, f"body is not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("kind") != "AdmissionReview":
        raise BadRequest(400, "body is not an AdmissionReview (kind must be AdmissionReview)")
    if raw.get("apiVersion") != admission.API_VERSION:
        raise BadRequest(400, f"unsupported apiVersion {raw.get('apiVersion')!r}: this webhook speaks {admission.API_VERSION}")
    try:
        return AdmissionReview.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BadRequest(400, f"invalid AdmissionReview: {where}: {first['msg']}") from None


class Webhook:
    """The running gate and what the endpoints need besides it."""

    def __init__(self, settings: Settings, api_client: Any = None) -> None:
        self.settings = settings
        self.gate: Gate | None = None
        # The cluster `gatekeeper serve` chose (a kubernetes ApiClient), or None: no API.
        kube = KubeApi(api_client) if api_client is not None else None
        self.namespaces = NamespaceEnvironments(kube)
        # Owner references are confirmed through the API before they exempt anything
        # (README "Owners"); with no API to ask, such an object fails closed.
        self.owners = Owners(kube)
        self.ready: dict[str, str | None] = {"opa": "starting", "audit": "starting"}

    async def review(self, review: AdmissionReview, environment: str) -> AdmissionReviewResponse:
        """The answer to one review. Whatever raises on the way is answered as a failed
        component (per the environment's enforcement) and recorded with `reason: internal_error`."""
        try:
            return await self._review(review, environment)
        except Exception as exc:  # noqa: BLE001 - every answered review is on record, a bug's too
            return await self._internal_error(review.request, environment, exc)

    async def _review(self, review: AdmissionReview, environment: str) -> AdmissionReviewResponse:
        request = review.request
        if request.operation in ("DELETE", "CONNECT") or request.object is None:
            if not self._served_a_model(request.old_object):
                return admission.allow(request.uid)  # nothing about a model was decided: not recorded
            return await self._unjudged(request, environment, admission.allow(request.uid), "not_judged")
        obj = dict(request.object)
        if request.namespace and not (obj.get("metadata") or {}).get("namespace"):
            obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": request.namespace}
        context = ReviewContext(operation=request.operation, request_uid=request.uid,
                                user=request.user_info.username, dry_run=request.dry_run, source="webhook",
                                groups=list(request.user_info.groups), old_object=request.old_object,
                                subresource=request.sub_resource)
        assert self.gate is not None
        try:
            async with asyncio.timeout(self.settings.response_budget):
                evaluation = await self.gate.evaluate([Manifest(obj)], environment, context)
        except UnknownEnvironment as exc:
            answer = admission.deny(request.uid, f"model-gatekeeper: {exc}; denied (fail closed)")
            return await self._unjudged(request, environment, answer, "unknown_environment")
        except asyncio.TimeoutError:
            metrics.ERRORS.labels("budget").inc()
            log.warning("review over budget", uid=request.uid, budget=self.settings.response_budget)
            message = (f"model-gatekeeper did not decide within its {self.settings.response_budget:g}s budget "
                       "(OPA, the evidence source or the Kubernetes API is too slow)")
            answer = self._failed(request.uid, environment, _is_namespace(obj), message)
            return await self._unjudged(request, environment, answer, "over_budget")
        if not evaluation.report.results:  # not model-serving: OPA was not asked
            if request.operation == "UPDATE" and self._served_a_model(request.old_object):
                return await self._unjudged(request, environment, admission.allow(request.uid), "annotation_removed")
            # An object that serves no model (an ordinary Deployment, a ConfigMap): nothing
            # about a model was decided, so it costs no durable write (counted in /metrics).
            return admission.allow(request.uid)
        decision = evaluation.report.results[0]
        self._observe(decision, context, self.gate.facts.risk_classes)
        return admission.from_decision(request.uid, decision)

    async def _internal_error(self, request: Any, environment: str, exc: Exception) -> AdmissionReviewResponse:
        """A review the gate itself failed on: answered like any failed component, and recorded."""
        component = component_of(exc)
        metrics.ERRORS.labels("gate").inc()
        log.error("review failed", uid=request.uid, component=component, error=f"{type(exc).__name__}: {exc}",
                  traceback="".join(traceback.format_exception(exc)))
        failure = f"internal error in {component} ({type(exc).__name__}: {_brief(exc)})"
        answer = self._failed(request.uid, environment, _is_namespace(request.object or request.old_object or {}),
                              f"model-gatekeeper failed to evaluate: {failure}")
        return await self._unjudged(request, environment, answer, "internal_error", error=failure)

    async def _unjudged(self, request: Any, environment: str, answer: AdmissionReviewResponse,
                        reason: str, error: str | None = None) -> AdmissionReviewResponse:
        """Record a review answered without a policy decision; deny when it cannot be recorded."""
        assert self.gate is not None
        result = answer.response
        failed = reason in ("over_budget", "unknown_environment", "internal_error")  # no decision could be made
        message = error or (result.status.message if result.status else None) or "; ".join(result.warnings or [])
        record = AuditRecord.model_construct(
            decision_id=uuid.uuid4().hex, time=datetime.now(timezone.utc), request_uid=request.uid,
            user=request.user_info.username, operation=request.operation,
            object=_reviewed(request), environment=environment, models=[],
            evidence_digest="", policy_revision=self.gate.policy_revision,
            outcome="error" if failed else ("admitted" if result.allowed else "denied"), allowed=result.allowed,
            enforcement=self.gate.enforcement_of(environment), violations=[], waived=[],
            warnings=list(result.warnings or []), dry_run=request.dry_run, source="webhook",
            error=message if failed else None, reason=reason, subresource=request.sub_resource)
        if not record.object.namespace and request.namespace:
            record.object = record.object.model_copy(update={"namespace": request.namespace})
        try:
            # A slow store may be why the budget ran out: bounded, to stay inside the webhook's timeout.
            async with asyncio.timeout(RECORD_GRACE_S):
                await self.gate.record(record)
        except (AuditStoreError, asyncio.TimeoutError) as exc:
            metrics.ERRORS.labels("audit").inc()
            if result.allowed:
                return admission.deny(request.uid, f"model-gatekeeper: the decision could not be recorded: "
                                                   f"{exc or 'audit store timed out'}; denied (fail closed)")
        log.info("answered", uid=request.uid, operation=request.operation, environment=environment,
                 allowed=result.allowed, reason=reason)
        return answer

    def _served_a_model(self, old_object: dict[str, Any] | None) -> bool:
        """Whether the object before this change served a model (so the change is on record)."""
        assert self.gate is not None
        return bool(old_object) and self.gate.kinds is not None and served_models(old_object, self.gate.kinds).gated

    def _failed(self, uid: str, environment: str, guarded: bool, message: str) -> AdmissionReviewResponse:
        """No decision could be made: denied where the environment enforces, else admitted with a warning."""
        assert self.gate is not None
        # A Namespace reaches the gate for its environment label, guarded in every environment.
        if guarded or self.gate.enforcement_of(environment) == "deny":
            return admission.deny(uid, message + "; denied (fail closed)")
        return admission.allow(uid, [message])

    @staticmethod
    def _observe(decision: Decision, context: ReviewContext, risk_order: list[str]) -> None:
        outcome = outcome_of(decision)  # the same word the decision log records
        # The most severe class, in the policy's own order (data.gatekeeper.facts).
        classes = [m.risk_class for m in decision.models if m.risk_class in risk_order]
        metrics.REVIEWS.labels(outcome, decision.environment, max(classes, key=risk_order.index, default="none")).inc()
        log.info("decision", decision_id=decision.decision_id, uid=context.request_uid, user=context.user,
                 operation=context.operation, object=decision.object.display(), environment=decision.environment,
                 outcome=outcome, dry_run=context.dry_run, models=[f"{m.name}@{m.version}" for m in decision.models],
                 violations=[v.requirement for v in decision.violations], error=decision.error,
                 policy_revision=decision.policy_revision)


def _is_namespace(obj: dict[str, Any]) -> bool:
    return obj.get("kind") == "Namespace" and obj.get("apiVersion") == "v1"


def _reviewed(request: Any) -> ObjectRef:
    """The object a review is about, for its record; from the request's own fields when
    the object cannot be read (the review may have failed on exactly that)."""
    try:
        return object_ref(request.object or request.old_object or {})
    except Exception:  # noqa: BLE001 - a record is still written, naming what the request names
        kind = request.kind
        return ObjectRef(apiVersion=f"{kind.group}/{kind.version}" if kind.group else kind.version, kind=kind.kind,
                         namespace=request.namespace, name=request.name or "")


def _brief(exc: Exception) -> str:
    # The record and the answer name the failure, not a traceback (that goes to the log).
    text = " ".join(str(exc).split()) or "no message"
    return text if len(text) <= 160 else text[:157] + "..."
