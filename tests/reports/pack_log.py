"""A real decision log about credit-scoring@3 for the evidence-pack tests and benchmark:
decisions made by the real gate (real OPA, the example evidence), recorded by its own
recorder in the real store (with the OPA inputs replay needs), their IDs and times fixed
so the log (and so the pack) is the same every run,
and a checkpoint signed with a fixed key (Ed25519 signatures are deterministic)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.audit import AuditRecord, AuditStore, open_store
from gatekeeper.audit.note import Signer
from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext
from gatekeeper.types.decision import Decision

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE = ROOT / "examples" / "evidence"
MANIFESTS = ROOT / "examples" / "manifests"
START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
LOG_KEY = Signer("example.com/model-gatekeeper/test", bytes(range(32)))
# (manifest, environment, source): an admission, a denial, a background re-judgement, and
# another model's admission the pack must leave out.
SCENARIO = [
    ("compliant/credit-scoring-inferenceservice.yaml", "production", "webhook"),
    ("noncompliant/artifact-storage-mismatch.yaml", "production", "webhook"),
    ("compliant/credit-scoring-inferenceservice.yaml", "production", "background"),
    ("compliant/churn-predictor-deployment.yaml", "production", "webhook"),
    ("noncompliant/artifact-storage-mismatch.yaml", "staging", "api"),
]


class FixedIds:
    """The real store, each record's ID and time fixed as the gate appends it (the gate makes
    random IDs and stamps records with the wall clock), so the log is the same every run."""

    def __init__(self, store: AuditStore) -> None:
        self._store, self._next = store, itertools.count()

    async def append(self, record: AuditRecord, input_doc: dict[str, Any] | None = None) -> AuditRecord:
        n = next(self._next)
        fixed = record.model_copy(update={"decision_id": f"{n:032x}", "time": START + timedelta(minutes=n)})
        return await self._store.append(fixed, input_doc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def run_scenario(opa_url: str, audit: Any = None,
                       between: Callable[[int], Awaitable[None]] | None = None) -> list[Decision]:
    """The scenario's decisions, recorded in AUDIT when given; BETWEEN(n) runs before decision n."""
    engine = PolicyEngine(opa_url, timeout=60.0)
    gate = Gate(engine, EvidenceLookup(FileEvidenceSource(EVIDENCE), timeout=10.0), audit=audit, clock=lambda: START)
    try:
        await gate.refresh_policy()
        made = []
        for n, (file, environment, source) in enumerate(SCENARIO):
            if between is not None:
                await between(n)
            objects = [doc for doc in yaml.safe_load_all((MANIFESTS / file).read_text()) if doc]
            evaluation = await gate.evaluate([Manifest(obj) for obj in objects], environment,
                                             ReviewContext(source=source, request_uid=f"uid-{n}", user="ci@example.com"))
            made.append(evaluation.report.results[0])
        return made
    finally:
        await engine.close()


async def decide(opa_url: str) -> list[tuple[AuditRecord, str]]:
    """The scenario's decisions as records (not yet numbered), each with its source (the benchmark copies them)."""
    decisions = await run_scenario(opa_url)
    return [(AuditRecord.from_decision(d, request_uid=None, user=None, dry_run=False, source=source),  # type: ignore[arg-type]
             source) for d, (_, _, source) in zip(decisions, SCENARIO)]


def build(opa_url: str, path: Path | str, *, after_checkpoint: int = 1) -> str:
    """Write the log at PATH (a SQLite file, or a store URL) through the gate's own recorder
    (each decision with its OPA input); the last AFTER_CHECKPOINT records come after the
    signed checkpoint."""
    url = path if isinstance(path, str) else f"sqlite:///{path}"

    async def run() -> None:
        store = await open_store(url)

        async def between(n: int) -> None:
            if n == len(SCENARIO) - after_checkpoint:
                await store.sign_checkpoint(LOG_KEY, LOG_KEY.name)

        try:
            await run_scenario(opa_url, FixedIds(store), between)
        finally:
            await store.close()

    asyncio.run(run())
    return url
