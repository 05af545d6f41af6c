"""Shared pieces of the benchmarks: generated manifests, the inputs the gate sends OPA, stats."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.config import Settings
from gatekeeper.pipeline.gate import Gate, Manifest
from gatekeeper.pipeline.assemble import open_gate

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "examples" / "manifests"
RESULTS = ROOT / "bench-results"


def example_objects() -> list[dict[str, Any]]:
    """Every example object (compliant, non-compliant, not model-serving)."""
    objects = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


def generate_manifests(folder: Path, count: int) -> list[dict[str, Any]]:
    """`count` manifests cycling through the examples, each with its own name, one file each."""
    folder.mkdir(parents=True, exist_ok=True)
    base = example_objects()
    objects = []
    for i in range(count):
        obj = json.loads(json.dumps(base[i % len(base)]))
        obj["metadata"]["name"] = f"{obj['metadata']['name']}-{i}"
        objects.append(obj)
        (folder / f"m{i:04d}.yaml").write_text(yaml.safe_dump(obj))
    return objects


async def captured_inputs(settings: Settings, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The exact OPA input documents the gate builds for these objects."""
    captured: list[dict[str, Any]] = []
    async with open_gate(settings) as gate:
        engine = gate.engine
        real = engine.decide_many

        async def capture(inputs):
            captured.extend(inputs)
            return await real(inputs)

        engine.decide_many = capture  # type: ignore[method-assign]
        await gate.evaluate([Manifest(o) for o in objects], "production")
    return captured


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": statistics.median(values), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "min": min(values), "max": max(values)}


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def run(coro):
    return asyncio.run(coro)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
