"""Assemble a ready Gate from Settings: start OPA if needed, pick the evidence source.

`open_gate` is the one place a Gate is built: the webhook (with its audit store), `gatekeeper
check` and `gatekeeper policy impact` (one per policy side, sharing one evidence source).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from gatekeeper.audit import AuditStore
from gatekeeper.config import Settings
from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.evidence.source import EvidenceSource
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.opa.server import OpaServer
from gatekeeper.pipeline.gate import Gate, WallClock, utc_now
from gatekeeper.pipeline.owners import Owners


def evidence_source(settings: Settings) -> EvidenceSource:
    if settings.mlflow_url:
        from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource  # optional dependency, loaded on demand

        return MlflowEvidenceSource(settings.mlflow_url, timeout=settings.evidence_timeout)
    return FileEvidenceSource(settings.evidence_root())


@asynccontextmanager
async def open_gate(
    settings: Settings, *, opa_processors: int | None = None, audit: AuditStore | None = None,
    source: EvidenceSource | None = None, clock: WallClock = utc_now, owners: Owners | None = None,
) -> AsyncIterator[Gate]:
    """A Gate with its OPA (started here unless settings.opa_url names one, with
    `opa_processors` as its GOMAXPROCS), its evidence source (`source`, else the one
    settings name), the audit store that records its decisions (None: not recorded) and
    the clock its decisions are made at, and what confirms owner references (None: taken
    as written). The policy is read before it is yielded."""
    source = source or evidence_source(settings)  # fails fast on a missing evidence folder
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
        lookup = EvidenceLookup(source, timeout=settings.evidence_timeout, ttl=settings.evidence_cache_ttl)
        gate = Gate(engine, lookup, audit=audit, opa_server=server, clock=clock, owners=owners)
        await gate.refresh_policy()
        yield gate
