"""The webhook front door: the FastAPI app, its endpoints and its lifespan (README "The CLI" and "The webhook").

A review goes `admit()` -> `review.Webhook.review` -> `pipeline.gate.Gate.evaluate` -> OPA,
and back as an AdmissionResponse. Nothing here returns a 5xx to Kubernetes.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
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
from pydantic import ValidationError
from starlette.routing import Route

from gatekeeper import metrics
from gatekeeper.audit import AuditStoreError, open_store
from gatekeeper.audit.note import load_signer
from gatekeeper.audit.proofs import with_cosignatures
from gatekeeper.audit.witness import Witness
from gatekeeper.config import Settings
from gatekeeper.opa.client import PolicyError
from gatekeeper.opa.server import SERVING_OPA_PROCESSORS, OpaStartError
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext, UnknownEnvironment
from gatekeeper.types import admission
from gatekeeper.webhook.checkpoints import CheckpointSigner
from gatekeeper.webhook.inventory import InventoryReader, answer as inventory_answer
from gatekeeper.webhook.readiness import watch
from gatekeeper.webhook.reload import BearerToken, ServingTLS, keep_fresh
from gatekeeper.webhook.review import BadRequest, EvaluateRequest, Webhook, bad_request, parse_review, read_body

log = structlog.get_logger("gatekeeper")
GIL_SWITCH_INTERVAL_S = 0.0005
# FastAPI's built-in OpenTelemetry asks, on every request, whether a provider is set up
# (~0.05 ms of a review's CPU). The gate's metrics are Prometheus (/metrics) and its
# decision log is structlog, so it is off.
NO_OTEL = {"tracing": False, "metrics": False, "logs": False}


def configure_logging() -> None:
    # One line per decision: rendered by orjson straight to bytes (the stdlib encoder was a
    # visible share of a review's CPU).
    structlog.configure(
        processors=[structlog.processors.TimeStamper(fmt="iso", utc=True), structlog.processors.add_log_level,
                    structlog.processors.JSONRenderer(serializer=orjson.dumps)],
        logger_factory=structlog.BytesLoggerFactory(),
        cache_logger_on_first_use=True,
    )


def create_app(settings: Settings, tls: ServingTLS | None = None, inventory: InventoryReader | None = None,
               api_client: Any = None) -> FastAPI:
    """`inventory` reads what runs where for GET /v1/inventory; `api_client` (a kubernetes
    ApiClient) is the cluster the webhook reads owners and namespace labels from (None for
    either: no cluster to ask)."""
    hook = Webhook(settings, api_client)
    # Only the kube-apiserver may post reviews when a token is configured (deploy/ does):
    # a review from anyone else would enter the decision log as if Kubernetes had asked.
    admission_token = BearerToken(settings.admission_token_file) if settings.admission_token_file else None
    renewable = [item for item in (tls, admission_token) if item is not None]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging()
        signer = load_signer(settings.log_key) if settings.log_key else None
        store = await open_store(settings.audit_db)
        checkpoints = (CheckpointSigner(store, signer, settings.log_origin or signer.name, settings.checkpoint_interval,
                                        [Witness.parse(w) for w in settings.witness]) if signer else None)
        app.state.store = store
        try:
            # admissions confirm the owners objects name (hook.owners reads the cluster)
            async with _starting(app), open_gate(settings, opa_processors=SERVING_OPA_PROCESSORS, audit=store,
                                                 owners=hook.owners) as gate:
                hook.gate = gate
                watcher = asyncio.create_task(watch(gate, hook.ready))
                refresher = asyncio.create_task(keep_fresh(renewable, settings.reload_interval))
                signing = asyncio.create_task(checkpoints.run()) if checkpoints else None
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
                log.info("ready", opa=gate.engine.url, evidence=gate.lookup.source.name, audit=store.url,
                         policy_revision=gate.policy_revision)
                try:
                    yield
                finally:
                    watcher.cancel()
                    refresher.cancel()
                    if signing is not None:
                        signing.cancel()
            if checkpoints is not None:
                await checkpoints.sign()  # the last decisions answered are in a checkpoint too
        finally:
            await store.close()

    app = FastAPI(title="Model Gatekeeper", version="0.1.0", lifespan=lifespan, telemetry=NO_OTEL)
    app.state.startup_failure = None
    app.state.webhook = hook

    async def admit(request: Request, environment: str | None) -> Response:
        started = time.perf_counter()
        if admission_token is not None and not admission_token.accepts(request.headers.get("authorization")):
            log.warning("review refused: caller is not the API server", client=request.client.host if request.client else None)
            return bad_request(401, "only the Kubernetes API server may post AdmissionReviews here "
                                    "(Authorization: Bearer <admission token>)", "unauthorized")
        try:
            review = parse_review(await read_body(request, settings.max_body_bytes))
        except BadRequest as exc:
            return bad_request(exc.status, exc.reason, "admission_review")
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

    def refused(request: Request) -> Response | None:
        """The API routes (/v1/*) need the evaluate token when one is set: one token option for both."""
        if not settings.evaluate_token:
            return None
        sent = (request.headers.get("authorization") or "").encode()
        if hmac.compare_digest(sent, f"Bearer {settings.evaluate_token}".encode()):
            return None
        return bad_request(401, f"a bearer token is required for {request.url.path}", "unauthorized")

    @app.post("/v1/evaluate")
    async def evaluate(request: Request) -> Response:
        """Evaluate objects as an admission would (CI's `gatekeeper check --remote`); returns a report."""
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            body = EvaluateRequest.model_validate_json(await read_body(request, settings.max_body_bytes))
        except BadRequest as exc:
            return bad_request(exc.status, exc.reason, "evaluate")
        except ValidationError as exc:
            first = exc.errors()[0]
            return bad_request(400, f"invalid request: {'.'.join(map(str, first['loc']))}: {first['msg']}", "evaluate")
        assert hook.gate is not None
        try:
            evaluation = await hook.gate.evaluate([Manifest(o) for o in body.objects], body.environment, ReviewContext(source="api"))
        except UnknownEnvironment as exc:
            return bad_request(400, str(exc), "evaluate")
        payload: dict[str, Any] = evaluation.report.model_dump(mode="json", by_alias=True)
        payload["problems"] = evaluation.problems
        return JSONResponse(payload)

    @app.get("/v1/inventory")
    async def inventory_rows(request: Request, namespace: str | None = None) -> Response:
        """What runs where (the rows of `gatekeeper inventory`), from the auditor's PolicyReports."""
        if (refusal := refused(request)) is not None:
            return refusal
        return await inventory_answer(inventory, namespace)

    @app.get("/v1/log/checkpoint")
    async def log_checkpoint(request: Request) -> Response:
        """The decision log's newest signed checkpoint (C2SP signed note, with cosignatures)."""
        if (refusal := refused(request)) is not None:
            return refusal
        try:
            newest = await app.state.store.checkpoint()
        except AuditStoreError as exc:
            return bad_request(503, str(exc), "audit")
        if newest is None:
            return bad_request(404, "no checkpoint signed yet", "not_found")
        return Response(with_cosignatures(newest), media_type="text/plain; charset=utf-8")

    @app.get("/v1/log/proof/{decision_id}")
    async def log_proof(request: Request, decision_id: str) -> Response:
        """The inclusion proof of one decision (the file of `gatekeeper audit prove`)."""
        if (refusal := refused(request)) is not None:
            return refusal
        store = app.state.store
        try:
            if await store.find(decision_id) is None:
                return bad_request(404, f"no decision {decision_id} in the log", "not_found")
            return JSONResponse(await store.prove(decision_id))
        except AuditStoreError as exc:
            # 409: not in a checkpoint yet (ask again after the next); 410: pruned; else the store failed
            status = 409 if "not in a signed checkpoint" in exc.reason else 410 if "was pruned" in exc.reason else 503
            return bad_request(status, str(exc), "audit")

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


@asynccontextmanager
async def _starting(app: FastAPI) -> AsyncIterator[None]:
    """A gate that cannot start (OPA, a refused policy) ends `serve` with one line, not a traceback."""
    try:
        yield
    except (PolicyError, OpaStartError) as exc:
        app.state.startup_failure = str(exc)
        logging.getLogger("uvicorn.error").disabled = True  # its traceback of the same failure
        raise


def run(settings: Settings, inventory: InventoryReader | None = None, api_client: Any = None) -> None:
    """Serve the webhook (`gatekeeper serve`): HTTPS when a certificate is configured.

    Raises ValueError with one line when the gate cannot start (e.g. a refused policy)."""
    import uvicorn

    tls = ServingTLS(settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    app = create_app(settings, tls, inventory, api_client)
    try:
        uvicorn.run(
            app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
            # The API server calls the webhook directly: no proxy's X-Forwarded-* to honour.
            proxy_headers=False,
            # Our own context, so a renewed certificate is loaded into it without a restart.
            ssl_context_factory=(lambda _config, _default: tls.context) if tls else None,
        )
    except SystemExit:
        if app.state.startup_failure:
            raise ValueError(app.state.startup_failure) from None
        raise

