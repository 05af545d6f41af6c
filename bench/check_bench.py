"""`gatekeeper check` on 1,000 generated manifests vs OPA alone on the same input documents.

The floor: a running OPA evaluating the same 1,000 input documents the gate builds, sent
pre-serialised through the same batch rule, batch size and concurrency. The gate: the real
`gatekeeper check` process end to end (Python start, YAML parsing, evidence, signature
checks, OPA start, report), and the same against an already-running OPA (--opa-url).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

from gatekeeper.config import Settings
from gatekeeper.opa.server import OpaServer
from gatekeeper.opa.client import PolicyEngine

from .common import ROOT, captured_inputs, generate_manifests, run, summary, timed, write_result

COUNT = 1000
REPEAT = 15


async def opa_alone(url: str, bodies: list[bytes], concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:
        async def post(body: bytes) -> None:
            async with limit, session.post(f"{url}/v1/data/gatekeeper/batch/decisions", data=body,
                                           headers={"content-type": "application/json"}) as answer:
                assert answer.status == 200
                await answer.read()

        await asyncio.gather(*(post(b) for b in bodies))


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="gk-bench-"))
    objects = generate_manifests(workdir / "manifests", COUNT)
    with OpaServer(ROOT / "policies") as opa:
        settings = Settings(opa_url=opa.url)
        inputs = run(captured_inputs(settings, objects))
        engine = PolicyEngine(opa.url)
        size, concurrency = engine.batch_size, engine.concurrency
        bodies = [json.dumps({"input": {"items": inputs[i:i + size]}}).encode() for i in range(0, len(inputs), size)]
        floor = timed(lambda: run(opa_alone(opa.url, bodies, concurrency)), REPEAT)

        def check(*extra: str) -> None:
            with open(workdir / "report.json", "w") as report_file:
                done = subprocess.run([sys.executable, "-m", "gatekeeper", "check", "--format", "json",
                                       str(workdir / "manifests"), *extra],
                                      stdout=report_file, stderr=subprocess.PIPE, cwd=ROOT)
            assert done.returncode == 1, done.stderr  # the mix holds denied objects
        warm_opa = timed(lambda: check("--opa-url", opa.url), REPEAT)
    end_to_end = timed(check, REPEAT)
    report = json.loads((workdir / "report.json").read_text())
    result = {
        "manifests": COUNT, "evaluated": len(report["results"]), "skipped": len(report["skipped"]),
        "opa_inputs": len(inputs), "batch_size": size, "concurrency": concurrency,
        "floor_opa_alone_s": summary(floor),
        "check_with_running_opa_s": summary(warm_opa),
        "check_end_to_end_s": summary(end_to_end),
    }
    for key in ("check_with_running_opa_s", "check_end_to_end_s"):
        result[key.replace("_s", "_ratio_to_floor")] = {
            stat: result[key][stat] / result["floor_opa_alone_s"][stat] for stat in ("median", "p99")}
    path = write_result("check", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
