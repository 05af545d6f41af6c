"""`gatekeeper report model` for a version with 10,000 recorded decisions (issue 21: ≤ 5 s).

The log is a real SQLite log written by the real store: the decisions the real gate makes
about credit-scoring@3 on the example evidence (tests/reports/pack_log.py), repeated with
their own IDs and times to 10,000 records, 2,000 records about another model between them,
and a signed checkpoint covering them all, so every record gets an inclusion proof. Each
format is one `gatekeeper report model` process against one running OPA, timed from start
to exit (imports included), with the CPU it used (OPA's, a few queries, aside). Run: `.venv/bin/python -m bench.report_bench` (writes
bench-results/report.json).
"""

from __future__ import annotations

import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from gatekeeper.audit import open_store
from gatekeeper.opa.server import OpaServer

from tests.reports.pack_log import EVIDENCE, LOG_KEY, START, decide

from .common import ROOT, write_result

DECISIONS = 10_000
OTHERS = 2_000
BUDGET_S = 5.0


async def fill(opa_url: str, url: str) -> None:
    made = await decide(opa_url)
    ours = [record for record, _ in made if any(m.name == "credit-scoring" and m.version == "3" for m in record.models)]
    other = next(record for record, _ in made if record not in ours)
    store = await open_store(url)
    try:
        total = DECISIONS + OTHERS
        for chunk in range(0, total, 1000):  # concurrent appends: the store commits them in groups, in order
            await asyncio.gather(*(store.append(_copy(ours, other, n, total)) for n in range(chunk, chunk + 1000)))
        await store.sign_checkpoint(LOG_KEY, LOG_KEY.name)
        count = len(await store.list(model="credit-scoring@3", limit=10 * total))
    finally:
        await store.close()
    assert count >= DECISIONS, count


def _children_cpu() -> float:
    """CPU seconds of finished children: on a loaded machine the wall time says more about
    the other jobs than about the command."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _copy(ours: list, other: object, n: int, total: int):  # type: ignore[no-untyped-def]
    base = other if n % (total // OTHERS) == 0 else ours[n % len(ours)]
    return base.model_copy(update={"decision_id": f"{n:032x}", "time": START + timedelta(seconds=n)})  # type: ignore[attr-defined]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, OpaServer(ROOT / "policies") as opa:
        url = f"sqlite:///{Path(folder) / 'audit.db'}"
        started = time.perf_counter()
        asyncio.run(fill(opa.url, url))
        fill_s = time.perf_counter() - started
        results = {}
        for fmt in ("json", "md", "html"):
            out = Path(folder) / f"pack.{fmt}"
            started, cpu = time.perf_counter(), _children_cpu()
            done = subprocess.run([sys.executable, "-m", "gatekeeper", "report", "model", "credit-scoring@3",
                                   "--format", fmt, "--evidence", str(EVIDENCE), "--audit-db", url,
                                   "--opa-url", opa.url, "--at", "2026-12-01T00:00:00Z", "--output", str(out)],
                                  capture_output=True, text=True, cwd=ROOT)
            seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
            assert done.returncode == 0, done.stderr
            results[fmt] = {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "bytes": out.stat().st_size}
            print(f"report model, {fmt}: {seconds:.2f} s ({cpu:.2f} s of CPU), {out.stat().st_size / 1e6:.1f} MB",
                  flush=True)
    worst = max(r["seconds"] for r in results.values())
    write_result("report", {"decisions_about_the_version": DECISIONS, "other_records": OTHERS,
                            "log_fill_seconds": round(fill_s, 1), "formats": results, "budget_seconds": BUDGET_S,
                            "within_budget": worst <= BUDGET_S})
    print(f"worst {worst:.2f} s (budget {BUDGET_S:g} s)")


if __name__ == "__main__":
    main()
