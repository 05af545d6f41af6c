"""Assemble a ready Gate from Settings: start OPA if needed, pick the evidence source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from gatekeeper.config import Settings
from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.source import EvidenceSource
from gatekeeper.pipeline.gate import Gate
from gatekeeper.opa.server import OpaServer
from gatekeeper.opa.client import PolicyEngine


def evidence_source(settings: Settings) -> EvidenceSource:
    if settings.mlflow_url:
        from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource  # optional dependency, loaded on demand

        return MlflowEvidenceSource(settings.mlflow_url, timeout=settings.evidence_timeout)
    return FileEvidenceSource(settings.evidence_root())


@asynccontextmanager
async def open_gate(settings: Settings, *, opa_processors: int | None = None) -> AsyncIterator[Gate]:
    """A Gate with its OPA (started here unless settings.opa_url names one, with
    `opa_processors` as its GOMAXPROCS) and evidence source."""
    source = evidence_source(settings)  # fails fast on a missing evidence folder
    async with AsyncExitStack() as stack:
        stack.push_async_callback(source.close)
        url = settings.opa_url
        server = None
        if not url:
            server = OpaServer(settings.policy_dir, processors=opa_processors)
            url = server.start()
            stack.callback(server.stop)
        engine = PolicyEngine(url, timeout=settings.opa_timeout)
        await engine.open()
        stack.push_async_callback(engine.close)
        gate = Gate(engine, source, evidence_timeout=settings.evidence_timeout, cache_ttl=settings.evidence_cache_ttl)
        gate.opa_server = server
        await gate.refresh_policy()
        yield gate
