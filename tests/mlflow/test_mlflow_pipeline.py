"""The pipeline in process, with a real MLflow and a real OPA and a clock the test moves:
how long evidence is cached, and when a waiver stops counting, without sleeping."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.pipeline.gate import Gate, Manifest
from gatekeeper.types import admission

from ..clock import FakeClock
from .registry import DataScientist, inference_service

CACHE_TTL = 30.0  # the default evidence TTL


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def with_gate(mlflow_url: str, opa_url: str, clock: FakeClock,
              steps: Callable[[Gate], Awaitable[None]]) -> None:
    """Run `steps` against a Gate on the session's MLflow and OPA, both clocks being `clock`."""

    async def run() -> None:
        engine = PolicyEngine(opa_url)
        await engine.open()
        try:
            # CI's 10 s per registry call, not the webhook's 1 s: a cold lookup on a busy machine
            # must not turn into evidence.unavailable here (the budget is tested on the webhook).
            lookup = EvidenceLookup(MlflowEvidenceSource(mlflow_url), timeout=10.0, ttl=CACHE_TTL,
                                    clock=clock.monotonic)
            gate = Gate(engine, lookup, clock=clock.now)
            await gate.refresh_policy()
            await steps(gate)
        finally:
            await engine.close()

    asyncio.run(run())


async def admit(gate: Gate, obj: dict[str, Any]) -> dict[str, Any]:
    """The AdmissionResponse the webhook would answer for `obj` in production."""
    evaluation = await gate.evaluate([Manifest(obj)], "production")
    [decision] = evaluation.report.results
    return admission.from_decision("uid", decision).model_dump(by_alias=True, exclude_none=True)["response"]


def message(response: dict) -> str:
    return (response.get("status") or {}).get("message", "")


def test_version_evidence_is_cached_for_its_ttl_then_read_again(mlflow_server, trust_opa, scientist: DataScientist):
    version = scientist.train(unique("fraud"))
    workload = inference_service(version.ref, version.storage_uri)
    clock = FakeClock()

    async def steps(gate: Gate) -> None:
        response = await admit(gate, workload)
        assert response["allowed"] is True, message(response)
        scientist.tag_version(version, "gatekeeper.monitoring.drift", "disabled")
        clock.advance(CACHE_TTL - 1)  # still within the TTL: the cached evidence answers
        response = await admit(gate, workload)
        assert response["allowed"] is True
        clock.advance(1.5)
        response = await admit(gate, workload)
        assert response["allowed"] is False and "[monitoring.required]" in message(response)

    with_gate(mlflow_server.url, trust_opa, clock, steps)


def test_waiver_honoured_then_expired_even_with_its_evidence_cached(mlflow_server, trust_opa, trust,
                                                                   scientist: DataScientist):
    version = scientist.train(unique("fraud"), fairness_ratio=0.62)
    clock = FakeClock()
    expires = clock.now().replace(microsecond=0) + timedelta(seconds=5)
    scientist.upload(version, "waivers/fairness.dsse.json", trust.waiver(
        "cora@example.com", model=version.model, versions=[version.version],
        requirement="fairness.demographic_parity_ratio", digest=version.digest, expires_at=expires))
    workload = inference_service(version.ref, version.storage_uri)

    async def steps(gate: Gate) -> None:
        response = await admit(gate, workload)
        assert response["allowed"] is True, message(response)
        assert any(w.startswith(f"[fairness.demographic_parity_ratio] {version.model}@{version.version}: waived by "
                                "waivers/fairness.dsse.json until") for w in response.get("warnings") or [])

        clock.advance(6)  # past the expiry, well within the evidence TTL: the waiver is cached
        response = await admit(gate, workload)
        assert response["allowed"] is False
        assert "[fairness.demographic_parity_ratio]" in message(response)
        # The decision says why the waiver no longer counts.
        [decision] = (await gate.evaluate([Manifest(workload)], "production")).report.results
        assert decision.allowed is False and decision.waived == []
        expired = expires.isoformat().replace("+00:00", "Z")
        assert (f"[fairness.demographic_parity_ratio] {version.model}@{version.version}: waiver at "
                f"waivers/fairness.dsse.json expired on {expired}") in decision.warnings

    with_gate(mlflow_server.url, trust_opa, clock, steps)
