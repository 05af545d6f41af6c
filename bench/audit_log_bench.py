"""The decision log as a transparency log at scale: a SQLite log of N records (default
1,000,000), then `audit prove` (open + proof), a consistency proof, and a full `audit verify`
with its memory peak. Writes bench-results/audit_log.json.

The log is built through the store's own write path (batches of BATCH records per
transaction, as group commit does under load), so the tree is the one the gate keeps.
  python -m bench.audit_log_bench [--records 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import resource
from datetime import datetime, timezone

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Signer
from gatekeeper.audit.record import CHAIN_FIELDS, AuditRecord
from gatekeeper.types.decision import DecidedModel, Decision, ObjectRef, Violation

from .common import write_result

BATCH = 2000
ORIGIN = "bench.example/model-gatekeeper"


def _content(i: int) -> dict:
    denied = i % 3 == 0
    decision = Decision(
        object=ObjectRef(apiVersion="serving.kserve.io/v1beta1", kind="InferenceService", namespace="lending",
                         name=f"svc-{i}"),
        environment="production", allowed=not denied, enforcement="deny", operation="CREATE",
        models=[DecidedModel(ref=f"models:/credit-scoring/{i % 50}", name="credit-scoring", version=str(i % 50),
                             risk_class="high")],
        violations=[Violation(requirement="fairness.demographic_parity_ratio", model="credit-scoring",
                              version=str(i % 50), message="demographic parity ratio for 'sex' is 0.62, below 0.80",
                              observed=0.62, threshold=0.8)] if denied else [],
        policy_revision="sha256:policy", decision_id=f"bench-{i}", evidence_digest="sha256:evidence")
    record = AuditRecord.from_decision(decision, request_uid=f"uid-{i}", user="bench", dry_run=False, source="webhook")
    record = record.model_copy(update={"time": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    return {k: v for k, v in record.content().items() if k not in CHAIN_FIELDS}


async def build(url: str, n: int) -> float:
    started = time.perf_counter()
    async with await open_store(url) as store:
        backend = store._backend  # the batch write path group commit uses, without the queue
        done = (await store.tree_head()).size
        while done < n:
            size = min(BATCH, n - done)
            await backend.write([_content(i) for i in range(done, done + size)], [])  # no OPA inputs stored
            done += size
            if done % 100_000 == 0:
                print(f"  {done} records, {time.perf_counter() - started:.0f} s", flush=True)
        await store.sign_checkpoint(Signer.generate(ORIGIN), ORIGIN)
    return time.perf_counter() - started


async def measure(url: str, n: int) -> dict:
    timings: dict[str, list[float]] = {"prove_ms": [], "consistency_ms": []}
    for k in range(20):
        i = (k * 7919 * 104729) % n
        started = time.perf_counter()
        async with await open_store(url, create=False) as store:
            await store.prove(f"bench-{i}")
        timings["prove_ms"].append((time.perf_counter() - started) * 1000)
        old = max(1, (k * 15485863) % n)
        async with await open_store(url, create=False) as store:
            started = time.perf_counter()
            await store.consistency_proof(old, n)
            timings["consistency_ms"].append((time.perf_counter() - started) * 1000)
    # The process's peak RSS before and after: verify must not add to it in proportion to
    # the log (tracemalloc would say it more precisely but slows the run several times).
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    async with await open_store(url, create=False) as store:
        result = await store.verify()
    verify_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.ok and result.count == n, result
    return {
        "prove_ms_median": statistics.median(timings["prove_ms"]), "prove_ms_max": max(timings["prove_ms"]),
        "consistency_ms_median": statistics.median(timings["consistency_ms"]),
        "consistency_ms_max": max(timings["consistency_ms"]),
        "verify_s": verify_s, "peak_rss_mib_before_verify": rss_before / 1024,
        "peak_rss_mib_after_verify": rss_after / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="reuse (or grow) this log file instead of a new temp one")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="audit-bench"), "audit.db")
    url = f"sqlite:///{os.path.abspath(path)}"
    build_s = asyncio.run(build(url, args.records))
    figures = asyncio.run(measure(url, args.records))
    report = {"records": args.records, "build_s": build_s, "db_bytes": os.path.getsize(path), **figures}
    print(report)
    write_result("audit_log", report)


if __name__ == "__main__":
    main()
