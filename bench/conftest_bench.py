"""`gatekeeper check` vs `conftest test` vs OPA alone, on the same 1,000 manifests.

- floor: a running OPA evaluating the 1,000 input documents the gate builds, through the
  gate's batch rule, batch size and concurrency (bench.check_bench.opa_alone).
- gatekeeper: the real `gatekeeper check --format json DIR` process end to end (Python
  start, YAML, evidence, signatures, its own OPA start, the JSON report).
- conftest: `conftest test --output json DIR` with the gate's Rego (tests left out) plus
  bench/conftest/gatekeeper_bench.rego, whose `deny` builds the same input document from
  each manifest and `data` (the model facts the gate builds, dumped once to JSON with
  the matrix and trusted signers) and asks `data.gatekeeper.decision with input as doc`.

Runs are interleaved (floor, gatekeeper, conftest, repeat), so machine noise hits all
three alike; ratios are to the floor measured in the same run. Writes
bench-results/conftest.json. Run: `.venv/bin/python -m bench.conftest_bench [--repeat N]`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from gatekeeper.config import Settings
from gatekeeper.opa.server import OpaServer
from gatekeeper.paths import find_tool
from gatekeeper.opa.client import PolicyEngine

from .check_bench import opa_alone
from .common import ROOT, captured_inputs, generate_manifests, run, summary, timed, write_result

COUNT = 1000
REPEAT = 10
CONFTEST_POLICY = Path(__file__).resolve().parent / "conftest"
PER_OBJECT = ("declared_risk_class", "storage_uri")  # from the manifest, not the model


def model_facts(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The model entries the gate built, keyed by model reference, minus what each manifest says."""
    facts: dict[str, Any] = {}
    for document in inputs:
        for entry in document["models"]:
            shared = {k: v for k, v in entry.items() if k not in PER_OBJECT}
            if facts.setdefault(entry["ref"], shared) != shared:
                raise SystemExit(f"model facts for {entry['ref']} differ between objects")
    return facts


def conftest_policy(into: Path) -> Path:
    """The gate's Rego without its tests (the gate's OPA ignores them too) plus the bench rules."""
    into.mkdir(parents=True)
    for rego in (ROOT / "policies").rglob("*.rego"):
        if rego.name.endswith("_test.rego") or "testdata" in rego.parts:
            continue
        target = into / rego.relative_to(ROOT / "policies")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(rego, target)
    shutil.copy(CONFTEST_POLICY / "gatekeeper_bench.rego", into / "gatekeeper_bench.rego")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT)
    parser.add_argument("--count", type=int, default=COUNT)
    args = parser.parse_args()
    conftest = find_tool("conftest")
    if not conftest:
        raise SystemExit("conftest not found: bash scripts/install-tool.sh conftest")

    workdir = Path(tempfile.mkdtemp(prefix="gk-conftest-bench-"))
    manifests = workdir / "manifests"
    objects = generate_manifests(manifests, args.count)
    policy = conftest_policy(workdir / "policy")
    gatekeeper = [sys.executable, "-m", "gatekeeper", "check", "--format", "json", str(manifests)]
    conftest_cmd = [conftest, "test", "--no-color", "--output", "json", "--policy", str(policy),
                    "--data", str(workdir / "data.json"), str(manifests)]

    with OpaServer(ROOT / "policies") as opa:
        settings = Settings(opa_url=opa.url)
        inputs = run(captured_inputs(settings, objects))
        engine = PolicyEngine(opa.url)

        async def policy_data() -> dict[str, Any]:
            try:
                return {"matrix": await engine.data("gatekeeper/matrix"), "signers": await engine.data("gatekeeper/signers")}
            finally:
                await engine.close()

        data = {"gatekeeper": run(policy_data()),
                "gatekeeper_bench": {"now": inputs[0]["now"], "facts": model_facts(inputs)}}
        (workdir / "data.json").write_text(json.dumps(data))
        size, concurrency = engine.batch_size, engine.concurrency
        bodies = [json.dumps({"input": {"items": inputs[i:i + size]}}).encode() for i in range(0, len(inputs), size)]

        # What each side decides (once, untimed): the same objects must be denied.
        gate_report = json.loads(subprocess.run(gatekeeper, capture_output=True, cwd=ROOT, check=False).stdout)
        conftest_answer = subprocess.run(conftest_cmd, capture_output=True, cwd=ROOT, check=False)
        conftest_report = json.loads(conftest_answer.stdout)
        gate_denied = sum(not d["allowed"] for d in gate_report["results"])
        conftest_denied = sum(bool(f.get("failures")) for f in conftest_report)

        def gate_run() -> None:
            done = subprocess.run(gatekeeper, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
            assert done.returncode == 1, done.stderr  # the mix holds denied objects

        def conftest_run() -> None:
            done = subprocess.run(conftest_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
            assert done.returncode == 1, done.stderr

        floor: list[float] = []
        gate: list[float] = []
        conftest_times: list[float] = []
        for _ in range(args.repeat):
            floor += timed(lambda: run(opa_alone(opa.url, bodies, concurrency)), 1)
            gate += timed(gate_run, 1)
            conftest_times += timed(conftest_run, 1)

    result: dict[str, Any] = {
        "manifests": args.count, "repeat": args.repeat, "opa_inputs": len(inputs),
        "evaluated": len(gate_report["results"]), "skipped": len(gate_report["skipped"]),
        "denied": {"gatekeeper": gate_denied, "conftest": conftest_denied},
        "conftest_version": subprocess.run([conftest, "--version"], capture_output=True, text=True).stdout.split(),
        "floor_opa_alone_s": summary(floor),
        "gatekeeper_check_end_to_end_s": summary(gate),
        "conftest_test_s": summary(conftest_times),
    }
    for key in ("gatekeeper_check_end_to_end_s", "conftest_test_s"):
        result[key[:-2] + "_ratio_to_floor"] = {
            stat: result[key][stat] / result["floor_opa_alone_s"][stat] for stat in ("median", "p99")}
    result["gatekeeper_to_conftest_ratio"] = {
        stat: result["gatekeeper_check_end_to_end_s"][stat] / result["conftest_test_s"][stat] for stat in ("median", "p99")}
    path = write_result("conftest", result)
    print(json.dumps(result, indent=2))
    print(f"wrote {path}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
