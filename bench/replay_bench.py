"""What keeping replay's data costs: storage per decision and CPU per recorded input.

The inputs are the exact OPA input documents the gate builds for the example manifests;
each recorded decision gets its own (its `now` differs, as a second later it would), so no
two share a stored input: the worst case for storage. Two SQLite logs of the same records,
one with inputs and one without, give the bytes an input adds per decision; the policy
revision's bundle is stored once per revision and reported on its own. The webhook's
latency with inputs recorded is `bench.webhook_bench` (README "Replay a decision").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gatekeeper.audit import AuditRecord, open_store
from gatekeeper.audit.replay_data import Bases
from gatekeeper.config import Settings
from gatekeeper.opa import bundle
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.opa.server import OpaServer
from gatekeeper.types.canonical import canonical_json
from gatekeeper.types.decision import DecidedModel, ObjectRef

from .common import ROOT, captured_inputs, example_objects, summary, write_result


def record(i: int, doc: dict[str, Any]) -> AuditRecord:
    model = (doc.get("models") or [{}])[0]
    return AuditRecord.model_construct(
        decision_id=f"bench-{i}", time=_now(), request_uid=f"uid-{i}",
        user="bench", operation="CREATE", object=ObjectRef(kind="InferenceService", namespace="lending", name=f"svc-{i}"),
        environment="production", models=[DecidedModel(ref=model.get("ref", "m"), name=model.get("name", "m"),
                                                        version=model.get("version"), risk_class="high")],
        evidence_digest="sha256:" + "e" * 64, policy_revision="sha256:" + "p" * 64, outcome="admitted", allowed=True,
        enforcement="deny", violations=[], waived=[], warnings=[], dry_run=False, source="webhook", error=None,
        reason=None, subresource=None, input_digest=None)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def unique(doc: dict[str, Any], i: int) -> dict[str, Any]:
    return {**doc, "now": f"2026-12-06T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}


async def fill(url: str, docs: list[dict[str, Any]], count: int, with_inputs: bool) -> None:
    async with await open_store(url) as store:
        for start in range(0, count, 200):  # concurrent appends, as the webhook's group commit sees them
            await asyncio.gather(*(
                store.append(record(i, docs[i % len(docs)]), unique(docs[i % len(docs)], i) if with_inputs else None)
                for i in range(start, min(count, start + 200))))


def size_of(path: Path) -> int:
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("VACUUM")
    con.close()
    return os.path.getsize(path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=5000)
    args = parser.parse_args()
    with OpaServer(ROOT / "policies") as opa:
        docs = asyncio.run(captured_inputs(Settings(opa_url=opa.url), example_objects()))

        async def snapshot():  # type: ignore[no-untyped-def]
            engine = PolicyEngine(opa.url)
            try:
                return await engine.snapshot()
            finally:
                await engine.close()

        revision, modules, data = asyncio.run(snapshot())
    built = bundle.build(modules, data)

    raw = [len(canonical_json(unique(d, i))) for i, d in enumerate(docs)]
    whole = [len(Bases().pack(unique(d, i), _now()).stored.compressed) for i, d in enumerate(docs)]  # no base yet
    # As the store packs them: against the base input of the same models, once one is stored.
    bases, based, cpu = Bases(), [], []
    for i in range(2000):
        doc = unique(docs[i % len(docs)], i)
        started = time.process_time_ns()
        packed = bases.pack(doc, _now())
        cpu.append((time.process_time_ns() - started) / 1000)
        bases.committed(packed)
        if packed.stored.base:
            based.append(len(packed.stored.compressed))

    folder = Path(tempfile.mkdtemp(prefix="gk-replay-bench-"))
    sizes = {}
    for name, with_inputs in (("without_inputs", False), ("with_inputs", True)):
        path = folder / f"{name}.db"
        asyncio.run(fill(f"sqlite:///{path}", docs, args.decisions, with_inputs))
        sizes[name] = size_of(path)
    report = {
        "decisions": args.decisions, "distinct_example_inputs": len(docs),
        "input_canonical_json_bytes": summary([float(v) for v in raw]),
        "input_zlib_bytes_whole": summary([float(v) for v in whole]),
        "input_zlib_bytes_against_base": summary([float(v) for v in based]),
        "compression_ratio_whole_median": statistics.median(r / c for r, c in zip(raw, whole, strict=True)),
        "pack_cpu_us": summary(cpu),
        "sqlite_bytes_per_decision": {name: size / args.decisions for name, size in sizes.items()},
        "sqlite_bytes_per_decision_added_by_input":
            (sizes["with_inputs"] - sizes["without_inputs"]) / args.decisions,
        "bundle": {"revision": revision, "bytes": len(built), "modules": len(modules)},
    }
    path = write_result("replay", report)
    print(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
