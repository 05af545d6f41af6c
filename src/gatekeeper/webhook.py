"""The webhook front door: AdmissionReview in, AdmissionResponse out (DESIGN §7, §8).

Follow a review: `validate()` reads and checks the body, `review()` hands the object to
the same `Gate.evaluate` the CLI uses (served models -> evidence -> OPA -> audit), and
`admission.from_decision` answers. Every path answers within the budget; nothing here
returns a 5xx to Kubernetes.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from starlette.routing import Route

from . import admission, metrics
from .admission import AdmissionReview, AdmissionReviewResponse
from .audit import AuditStoreError, open_store
from .audit.record import outcome_of
from .config import Settings
from .gate import Gate, Manifest, ReviewContext, UnknownEnvironment
from .models import RISK_CLASSES, Decision
from .namespaces import NamespaceEnvironments
from .opa import SERVING_OPA_PROCESSORS
from .runtime import open_gate

log = structlog.get_logger("gatekeeper")
GIL_SWITCH_INTERVAL_S = 0.0005
# FastAPI's built-in OpenTelemetry asks, on every request, whether a provider is set up
# (~0.05 ms of a review's CPU). The gate's metrics are Prometheus (/metrics) and its
# decision log is structlog, so it is off.
NO_OTEL = {"tracing": False, "metrics": False, "logs": False}


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class EvaluateRequest(BaseModel):
    environment: str = "production"
    objects: list[dict[str, Any]]


def _bad(status: int, reason: str, metric: str) -> JSONResponse:
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gate: Gate | None = None
        self.namespaces = NamespaceEnvironments()
        self.ready: dict[str, str | None] = {"opa": "starting", "audit": "starting"}

    async def review(self, review: AdmissionReview, environment: str) -> AdmissionReviewResponse:
        request = review.request
        if request.operation in ("DELETE", "CONNECT") or request.object is None:
            return admission.allow(request.uid)
        obj = dict(request.object)
        if request.namespace and not (obj.get("metadata") or {}).get("namespace"):
            obj["metadata"] = {**(obj.get("metadata") or {}), "namespace": request.namespace}
        context = ReviewContext(operation=request.operation, request_uid=request.uid,
                                user=request.user_info.username, dry_run=request.dry_run, source="webhook")
        assert self.gate is not None
        try:
            async with asyncio.timeout(self.settings.response_budget):
                evaluation = await self.gate.evaluate([Manifest(obj)], environment, context)
        except UnknownEnvironment as exc:
            return admission.deny(request.uid, f"model-gatekeeper: {exc}; denied (fail closed)")
        except asyncio.TimeoutError:
            metrics.ERRORS.labels("budget").inc()
            log.warning("review over budget", uid=request.uid, budget=self.settings.response_budget)
            return self._over_budget(request.uid, environment)
        if not evaluation.report.results:
            return admission.allow(request.uid)  # not model-serving: OPA was not asked
        decision = evaluation.report.results[0]
        self._observe(decision, context)
        return admission.from_decision(request.uid, decision)

    def _over_budget(self, uid: str, environment: str) -> AdmissionReviewResponse:
        message = (f"model-gatekeeper did not decide within its {self.settings.response_budget:g}s budget "
                   "(OPA or the evidence source is too slow)")
        assert self.gate is not None
        if self.gate.enforcement.get(environment, "deny") == "deny":
            return admission.deny(uid, message + "; denied (fail closed)")
        return admission.allow(uid, [message])

    @staticmethod
    def _observe(decision: Decision, context: ReviewContext) -> None:
        outcome = outcome_of(decision)  # the same word the decision log records
        classes = [m.risk_class for m in decision.models if m.risk_class in RISK_CLASSES]
        metrics.REVIEWS.labels(outcome, decision.environment, max(classes, key=RISK_CLASSES.index, default="none")).inc()
        log.info("decision", decision_id=decision.decision_id, uid=context.request_uid, user=context.user,
                 operation=context.operation, object=decision.object.display(), environment=decision.environment,
                 outcome=outcome, dry_run=context.dry_run, models=[f"{m.name}@{m.version}" for m in decision.models],
                 violations=[v.requirement for v in decision.violations], error=decision.error,
                 policy_revision=decision.policy_revision)

    async def watch(self, interval: float = 1.0, revision_every: float = 30.0, audit_every: float = 5.0) -> None:
        """Keep /readyz true to life: OPA answering with policies loaded, audit store writable.

        Cheap checks every second; the policy revision (every module's text from OPA) and
        the audit store's trial write run less often, as they compete with reviews.
        """
        assert self.gate is not None
        loop = asyncio.get_running_loop()
        next_revision = next_audit = loop.time()
        while True:
            try:
                if self.gate.opa_server is not None:
                    await asyncio.to_thread(self.gate.opa_server.ensure_running)  # the embedded OPA died: restart it
                if self.ready["opa"] is not None or loop.time() >= next_revision:
                    if await self.gate.engine.revision() != self.gate.policy_revision:
                        await self.gate.refresh_policy()
                    next_revision = loop.time() + revision_every
                elif not await self.gate.engine.data("gatekeeper/environments"):
                    raise RuntimeError(f"OPA at {self.gate.engine.url} has no gatekeeper policies loaded")
                self.ready["opa"] = None
            except Exception as exc:  # noqa: BLE001 - any failure makes the gate unready
                self.ready["opa"] = str(exc)
            if self.ready["audit"] is not None or loop.time() >= next_audit:
                next_audit = loop.time() + audit_every
                try:
                    if self.gate.audit is not None:
                        await self.gate.audit.check_writable()
                    self.ready["audit"] = None
                except AuditStoreError as exc:
                    self.ready["audit"] = str(exc)
                except Exception as exc:  # noqa: BLE001
                    self.ready["audit"] = f"audit store check failed: {exc}"
            await asyncio.sleep(interval)


def configure_logging() -> None:
    # One line per decision: rendered by orjson straight to bytes (the stdlib encoder was a
    # visible share of a review's CPU).
    structlog.configure(
        processors=[structlog.processors.TimeStamper(fmt="iso", utc=True), structlog.processors.add_log_level,
                    structlog.processors.JSONRenderer(serializer=orjson.dumps)],
        logger_factory=structlog.BytesLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def create_app(settings: Settings) -> FastAPI:
    hook = Webhook(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        store = await open_store(settings.audit_db)
        try:
            async with open_gate(settings, opa_processors=SERVING_OPA_PROCESSORS) as gate:
                gate.audit = store
                hook.gate = gate
                watcher = asyncio.create_task(hook.watch())
                # Everything loaded so far (modules, policy data, clients) lives as long as the
                # process: move it out of the collector's reach, so full collections during
                # reviews stay short and rare (a tail-latency cost otherwise).
                gc.collect()
                gc.freeze()
                # The audit writer thread needs the GIL back after every SQLite call, and the
                # busy event loop only yields it when asked: after the switch interval, 5 ms by
                # default, which became the audit append's latency under load. 0.5 ms cut the
                # append's mean from ~5 to ~2 ms at 200 reviews/s (`make bench`).
                sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
                log.info("ready", opa=gate.engine.url, evidence=gate.source.name, audit=store.url,
                         policy_revision=gate.policy_revision)
                try:
                    yield
                finally:
                    watcher.cancel()
        finally:
            await store.close()

    app = FastAPI(title="Model Gatekeeper", version="0.1.0", lifespan=lifespan, telemetry=NO_OTEL)
    app.state.webhook = hook

    async def admit(request: Request, environment: str | None) -> Response:
        started = time.perf_counter()
        try:
            review = parse_review(await read_body(request, settings.max_body_bytes))
        except BadRequest as exc:
            return _bad(exc.status, exc.reason, "admission_review")
        if environment is None:
            environment = await hook.namespaces.environment_of(review.request.namespace)
        try:
            answer = await hook.review(review, environment)
        except Exception as exc:  # noqa: BLE001 - never a 5xx to Kubernetes: deny and say why
            metrics.ERRORS.labels("gate").inc()
            log.exception("review failed", uid=review.request.uid)
            answer = admission.deny(review.request.uid, f"model-gatekeeper failed to evaluate ({type(exc).__name__}: {exc}); denied (fail closed)")
        metrics.REVIEW_SECONDS.observe(time.perf_counter() - started)
        return Response(answer.model_dump_json(by_alias=True, exclude_none=True), media_type="application/json")

    async def validate_environment(request: Request) -> Response:
        """Admission webhook for one environment (deploy/ has one webhook entry per environment)."""
        return await admit(request, request.path_params["environment"])

    async def validate(request: Request) -> Response:
        """Admission webhook; the environment comes from the namespace label (production without a cluster)."""
        return await admit(request, None)

    # The kube-apiserver's endpoints are plain routes: they read the raw body themselves,
    # so FastAPI's per-request parameter resolution would be pure overhead on every review.
    # They go first, ahead of the docs routes FastAPI adds, as routes are matched in order.
    app.router.routes[:0] = [Route("/validate/{environment}", validate_environment, methods=["POST"]),
                             Route("/validate", validate, methods=["POST"])]

    @app.post("/v1/evaluate")
    async def evaluate(request: Request) -> Response:
        """Evaluate objects as an admission would (CI's `gatekeeper check --remote`); returns a report."""
        if settings.evaluate_token and request.headers.get("authorization") != f"Bearer {settings.evaluate_token}":
            return _bad(401, "a bearer token is required for /v1/evaluate", "unauthorized")
        try:
            body = EvaluateRequest.model_validate_json(await read_body(request, settings.max_body_bytes))
        except BadRequest as exc:
            return _bad(exc.status, exc.reason, "evaluate")
        except ValidationError as exc:
            first = exc.errors()[0]
            return _bad(400, f"invalid request: {'.'.join(map(str, first['loc']))}: {first['msg']}", "evaluate")
        assert hook.gate is not None
        try:
            evaluation = await hook.gate.evaluate([Manifest(o) for o in body.objects], body.environment, ReviewContext(source="api"))
        except UnknownEnvironment as exc:
            return _bad(400, str(exc), "evaluate")
        payload: dict[str, Any] = evaluation.report.model_dump(mode="json", by_alias=True)
        payload["problems"] = evaluation.problems
        return JSONResponse(payload)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        failing = {name: reason for name, reason in hook.ready.items() if reason}
        if failing:
            return JSONResponse({"ready": False, "failing": failing}, status_code=503)
        assert hook.gate is not None
        return JSONResponse({"ready": True, "policy_revision": hook.gate.policy_revision})

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app

