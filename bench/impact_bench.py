"""`gatekeeper policy impact --from-log` over 10,000 recorded admissions (issue 21: ≤ 30 s).

The log is written by the real pipeline (the gate with its SQLite audit store, so each
record keeps its OPA input), cycling through the example objects in two namespaces each,
plus the auditor's background decisions of 1,000 running workloads. Timed: the real CLI
process end to end (Python start, one pass over the log, the inputs read back, OPA
started on a tightened copy of the policies, the batch queries, the JSON report), as
wall time and as the CPU time of the CLI and its OPA (on a loaded machine the wall time
is mostly waiting for a core; almost all of it is OPA evaluating the decisions).
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gatekeeper.audit import open_store
from gatekeeper.config import Settings
from gatekeeper.opa.server import OpaServer
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext

from .common import ROOT, example_objects, summary, write_result

ADMISSIONS = 10_000
WORKLOADS = 1_000
CHUNK = 500
REPEAT = 3
LIMIT_S = 30.0


def objects(count: int, tag: str) -> list[dict]:
    """COUNT model-serving objects cycling through the examples, each its own name."""
    served = [o for o in example_objects() if (o.get("metadata") or {}).get("annotations")]
    out = []
    for i in range(count):
        obj = copy.deepcopy(served[i % len(served)])
        obj["metadata"]["name"] = f"{obj['metadata']['name']}-{tag}{i}"
        obj["metadata"]["namespace"] = f"{obj['metadata'].get('namespace', 'default')}-{i % 2}"
        out.append(obj)
    return out


async def write_log(url: str) -> dict[str, int]:
    store = await open_store(url)
    written = {"webhook": 0, "background": 0}
    try:
        with OpaServer(ROOT / "policies") as opa:
            settings = Settings(opa_url=opa.url, evidence_dir=ROOT / "examples" / "evidence", opa_timeout=60.0)
            async with open_gate(settings, audit=store) as gate:
                for source, count in (("webhook", ADMISSIONS), ("background", WORKLOADS)):
                    context = ReviewContext(source=source, user="bench" if source == "webhook" else None)
                    pending = objects(count * 2, source[0])  # more than needed: not every example is judged
                    while written[source] < count:
                        batch, pending = pending[:min(CHUNK, count - written[source])], pending[CHUNK:]
                        evaluation = await gate.evaluate([Manifest(o) for o in batch], "production", context)
                        written[source] += len(evaluation.report.results)
    finally:
        await store.close()
    return written


def tightened(into: Path) -> Path:
    folder = into / "policies"
    shutil.copytree(ROOT / "policies", folder)
    matrix = folder / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix.write_text(matrix.read_text().replace("demographic_parity_ratio_min: 0.80",
                                                 "demographic_parity_ratio_min: 0.87"))
    return folder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gk-impact-bench-"))
    url = f"sqlite:///{workdir / 'audit.db'}"
    started = time.perf_counter()
    written = asyncio.run(write_log(url))
    setup = time.perf_counter() - started
    policies = tightened(workdir)
    times, cpu, report = [], [], {}
    for _ in range(REPEAT):
        began, used = time.perf_counter(), _children_cpu()
        done = subprocess.run([sys.executable, "-m", "gatekeeper", "policy", "impact", "--from-log", "--audit-db", url,
                               "--policy-dir", str(policies), "--format", "json"],
                              capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - began)
        cpu.append(_children_cpu() - used)  # the CLI and its OPA: what an idle machine would spend
        assert done.returncode == 1, done.stderr  # the tightened threshold flips some
        report = json.loads(done.stdout)
    admissions, workloads = report["admissions"], report["workloads"]
    assert admissions["replayed"] >= ADMISSIONS, admissions  # every admission had its input stored
    result = {
        "recorded": written, "log_setup_s": setup, "impact_s": summary(times), "impact_cpu_s": summary(cpu),
        "cores": os.cpu_count(), "load_average_1m": os.getloadavg()[0], "limit_s": LIMIT_S,
        "replayed": {"admissions": admissions["replayed"], "workloads": workloads["replayed"]},
        "changed": {"admissions": admissions["changed"], "workloads": workloads["changed"]},
        "within_limit": max(times) <= LIMIT_S,
    }
    path = write_result("impact", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
