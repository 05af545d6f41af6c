"""A real decision log about credit-scoring@3 for the evidence-pack tests and benchmark:
decisions made by the real gate (real OPA, the example evidence), recorded by the real
store, with their IDs and times fixed so the log (and so the pack) is the same every run,
and a checkpoint signed with a fixed key (Ed25519 signatures are deterministic)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from gatekeeper.audit import AuditRecord, open_store
from gatekeeper.audit.note import Signer
from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext

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


async def decide(opa_url: str) -> list[tuple[AuditRecord, str]]:
    """The scenario's decisions as records (not yet numbered), each with its source."""
    engine = PolicyEngine(opa_url, timeout=60.0)
    gate = Gate(engine, EvidenceLookup(FileEvidenceSource(EVIDENCE), timeout=10.0), clock=lambda: START)
    try:
        await gate.refresh_policy()
        made = []
        for n, (file, environment, source) in enumerate(SCENARIO):
            objects = [doc for doc in yaml.safe_load_all((MANIFESTS / file).read_text()) if doc]
            evaluation = await gate.evaluate([Manifest(obj) for obj in objects], environment,
                                             ReviewContext(source=source))
            decision = evaluation.report.results[0]
            record = AuditRecord.from_decision(decision, request_uid=f"uid-{n}", user="ci@example.com",
                                               dry_run=False, source=source)  # type: ignore[arg-type]
            made.append((record.model_copy(update={"decision_id": f"{n:032x}",
                                                   "time": START + timedelta(minutes=n)}), source))
        return made
    finally:
        await engine.close()


def build(opa_url: str, path: Path, *, after_checkpoint: int = 1) -> str:
    """Write the log at PATH; the last AFTER_CHECKPOINT records come after the signed checkpoint."""
    url = f"sqlite:///{path}"

    async def run() -> None:
        records = await decide(opa_url)
        store = await open_store(url)
        try:
            for record, _ in records[: len(records) - after_checkpoint]:
                await store.append(record)
            await store.sign_checkpoint(LOG_KEY, LOG_KEY.name)
            for record, _ in records[len(records) - after_checkpoint:]:
                await store.append(record)
        finally:
            await store.close()

    asyncio.run(run())
    return url
