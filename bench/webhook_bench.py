"""Load run on loopback: the gate's /validate/production vs OPA alone, at a fixed rate.

Open loop: requests leave on schedule (RATE per second) whether or not earlier ones have
been answered, so a slow server shows up as latency, not as a politely lower rate. The
mix: compliant, non-compliant and not-gated reviews. The floors: the same OPA input
documents the gate builds for those reviews, posted straight to `data.gatekeeper.decision`
of a separate, identical OPA at the same rate; and one durable SQLite commit per review
at the same rate, on the same disk as the gate's audit log.

Interleaved: this machine is a VM whose CPU and disk speed drift by tens of percent from
minute to minute, so one long floor run followed by one long gate run compares two
different machines. Instead the time is cut into rounds, and in each round the gate and
both floors run back to back (in ABBA order, so neither always goes first). Each round
yields its own gate/floor ratio; the report gives the pooled figures and the per-round
ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import uvloop
from prometheus_client.parser import text_string_to_metric_families

from gatekeeper.audit.sqlite import INSERT, SCHEMA
from gatekeeper.config import Settings
from gatekeeper.opa.server import SERVING_OPA_PROCESSORS, OpaServer
from gatekeeper.opa.transport import OpaConnections

from .common import ROOT, captured_inputs, example_objects, summary, write_result


def admission_review(obj: dict, uid: str) -> bytes:
    meta = obj.get("metadata", {})
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "operation": "CREATE", "namespace": meta.get("namespace"), "name": meta.get("name"),
        "kind": {"group": "", "version": "", "kind": obj.get("kind", "")},
        "userInfo": {"username": "bench"}, "object": obj}}).encode()


async def load(url: str, bodies: list[bytes], rate: float, duration: float) -> dict:
    """One open-loop run; returns the raw latencies (ms) with its statuses and throughput.

    The client is the gate's own lean keep-alive pool (one write per request, httptools),
    not aiohttp: the load generator shares the 2 cores with what it measures, and aiohttp
    spent ~0.8 ms of CPU per request there, the same order as the gate itself.
    """
    total = int(rate * duration)
    parts = urlsplit(url)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pool = OpaConnections(parts.hostname or "127.0.0.1", parts.port or 80, max_connections=256)

    async def one(body: bytes) -> None:
        started = time.perf_counter()
        answer = await pool.post_json(parts.path, body)
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        latencies.append(time.perf_counter() - started)

    try:
        # Warm up connections and caches (not measured).
        await asyncio.gather(*(one(bodies[i % len(bodies)]) for i in range(50)))
        latencies.clear()
        statuses.clear()
        tasks = []
        begin = time.perf_counter()
        for i in range(total):
            delay = begin + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - begin
    finally:
        await pool.close()
    return {"requests": total, "throughput_per_s": total / elapsed, "statuses": statuses,
            "latencies_ms": [x * 1000 for x in latencies]}


def durable_commit_floor(con: sqlite3.Connection, first_seq: int, rate: float, duration: float, body: str) -> dict:
    """The disk's share: one durable SQLite commit (the audit schema, WAL, synchronous=FULL)
    per review-sized record at the same rate, from a plain loop. No gate can record a
    decision durably faster than this disk commits it.

    Open loop, like the load: each commit's latency counts from when it was due, so a
    commit stuck behind a slow fsync shows the wait, as a review arriving then would."""
    latencies = []
    begin = time.perf_counter()
    for n in range(1, int(rate * duration) + 1):
        seq = first_seq + n
        due = begin + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        con.execute("BEGIN IMMEDIATE")
        con.execute(INSERT, (seq, f"d{seq}", f"2026-01-01T00:00:00.{seq % 1000000:06d}Z", "admitted", "[]", "p", "h", body))
        con.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (seq, "h"))
        con.execute("COMMIT")
        latencies.append((time.perf_counter() - due) * 1000)
    return {"requests": len(latencies), "latencies_ms": latencies}


def machine_noise() -> dict[str, float]:
    """What the rest of the world took from this VM so far (Linux): CPU time stolen by the
    hypervisor, and time some task here stalled on CPU or on I/O (pressure stall info).
    Differences over a run explain a run whose floors moved too."""
    noise = {"steal_ms": 0.0, "cpu_pressure_ms": 0.0, "io_pressure_ms": 0.0}
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/stat") as stat:
            noise["steal_ms"] = int(stat.readline().split()[8]) * 1000 / os.sysconf("SC_CLK_TCK")
        for resource in ("cpu", "io"):
            with open(f"/proc/pressure/{resource}") as pressure:
                noise[f"{resource}_pressure_ms"] = int(pressure.readline().rsplit("total=", 1)[1]) / 1000
    return noise


def open_floor_db(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(SCHEMA)
    con.execute("PRAGMA synchronous = FULL")
    return con


def ordinary_deployments() -> list[dict]:
    """Deployments that run no model server: what every rollout in a governed namespace now
    sends to the gate (deploy/ sends every Deployment there). Answered without OPA."""
    def deployment(name: str, *images: str) -> dict:
        containers = [{"name": f"c{i}", "image": image, "args": ["--port", "8080"],
                       "env": [{"name": "LOG_LEVEL", "value": "info"}]} for i, image in enumerate(images)]
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": "lending", "labels": {"app": name}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}}
    return [deployment("web", "nginx:1.27"), deployment("api", "registry.example.com/feature-api:2", "envoyproxy/envoy:v1.31"),
            deployment("worker", "registry.example.com/worker@sha256:" + "ab" * 32)]


def opa_queries(metrics_text: str) -> float:
    """How many OPA queries the gate has made (its own histogram's count)."""
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "gatekeeper_opa_query_seconds":
            return sum(s.value for s in family.samples if s.name.endswith("_count"))
    return 0.0


def pooled(runs: list[dict]) -> dict:
    """One target's rounds together: throughput over all its requests, latency over all."""
    latencies = [x for run in runs for x in run["latencies_ms"]]
    stats = summary(latencies)
    out = {"requests": len(latencies), "latency_ms": {k: stats[k] for k in ("median", "p95", "p99", "max")}}
    if "throughput_per_s" in runs[0]:
        out["throughput_per_s"] = statistics.mean(run["throughput_per_s"] for run in runs)
        statuses: dict[int, int] = {}
        for run in runs:
            for status, count in run["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        out["statuses"] = statuses
    return out


def stage_means(metrics_text: str) -> dict[str, float]:
    """Mean time per stage from the gate's own histograms (warm-up reviews included)."""
    stages = {"gatekeeper_admission_review_seconds": "review", "gatekeeper_opa_query_seconds": "opa_query",
              "gatekeeper_audit_append_seconds": "audit_append"}
    means = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name in stages:
            values = {sample.name: sample.value for sample in family.samples}
            count = values.get(f"{family.name}_count", 0)
            if count:
                means[stages[family.name]] = values[f"{family.name}_sum"] / count * 1000
    return means


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=40.0, help="seconds of load per target, over all rounds")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--audit-dir", default=None,
                        help="folder for the gate's audit log and the durable-commit floor (default: a new temp folder); "
                             "a tmpfs here shows what the disk's fsync costs")
    args = parser.parse_args()
    slice_s = args.duration / args.rounds

    objects = example_objects()  # compliant, non-compliant and not-gated, in a fixed mix
    reviews = [admission_review(obj, f"bench-{i}") for i, obj in enumerate(objects)]
    ordinary = [admission_review(obj, f"bench-plain-{i}") for i, obj in enumerate(ordinary_deployments())]
    workdir = Path(tempfile.mkdtemp(prefix="gk-webhook-bench-", dir=args.audit_dir))
    # A record the size the gate writes for a denied review with a few violations.
    record_body = json.dumps({"record": "x" * 2000})
    floor_db = open_floor_db(workdir / "floor.db")

    from tests.webhook.server import GateProcess  # the same real server process the tests start

    runs: dict[str, list[dict]] = {"gate": [], "opa": [], "disk": [], "not_gated": []}
    not_gated_opa_queries = 0.0
    # Configured as the gate's own OPA, so that the floor differs from it only by the gate.
    with OpaServer(ROOT / "policies", processors=SERVING_OPA_PROCESSORS) as floor_opa:
        inputs = asyncio.run(captured_inputs(Settings(opa_url=floor_opa.url), objects))
        opa_bodies = [json.dumps({"input": doc}).encode() for doc in inputs]
        gate = GateProcess(workdir).start()
        try:
            targets = {
                "opa": lambda: uvloop.run(load(f"{floor_opa.url}/v1/data/gatekeeper/decision", opa_bodies, args.rate, slice_s)),
                "gate": lambda: uvloop.run(load(f"{gate.url}/validate/production", reviews, args.rate, slice_s)),
                "disk": lambda: durable_commit_floor(floor_db, sum(r["requests"] for r in runs["disk"]), args.rate, slice_s, record_body),
                "not_gated": lambda: uvloop.run(load(f"{gate.url}/validate/production", ordinary, args.rate, slice_s)),
            }
            for round_no in range(args.rounds):
                order = ["opa", "gate", "not_gated", "disk"] if round_no % 2 == 0 else ["disk", "not_gated", "gate", "opa"]
                for name in order:
                    before = machine_noise()
                    queries = opa_queries(urllib.request.urlopen(f"{gate.url}/metrics").read().decode())
                    run = targets[name]()
                    if name == "not_gated":
                        not_gated_opa_queries += opa_queries(
                            urllib.request.urlopen(f"{gate.url}/metrics").read().decode()) - queries
                    run["noise"] = {k: v - before[k] for k, v in machine_noise().items()}
                    runs[name].append(run)
            inside = stage_means(urllib.request.urlopen(f"{gate.url}/metrics").read().decode())
        finally:
            gate.stop()
            floor_db.close()

    result, floor, disk = pooled(runs["gate"]), pooled(runs["opa"]), pooled(runs["disk"])
    result["inside_gate_mean_ms"] = inside
    per_round = [
        {"gate_p50_ms": statistics.median(g["latencies_ms"]), "opa_p50_ms": statistics.median(o["latencies_ms"]),
         "p50_ratio": statistics.median(g["latencies_ms"]) / statistics.median(o["latencies_ms"]),
         "gate_p99_ms": summary(g["latencies_ms"])["p99"], "opa_p99_ms": summary(o["latencies_ms"])["p99"],
         "disk_p99_ms": summary(d["latencies_ms"])["p99"],
         "gate_run_noise": g["noise"], "opa_run_noise": o["noise"], "disk_run_noise": d["noise"]}
        for g, o, d in zip(runs["gate"], runs["opa"], runs["disk"], strict=True)
    ]
    report = {
        "rate_per_s": args.rate, "duration_s": args.duration, "rounds": args.rounds, "audit_dir": str(workdir),
        "mix": {"reviews": len(reviews), "opa_inputs": len(inputs), "not_gated": len(reviews) - len(inputs)},
        "gate_validate_production": result, "floor_opa_alone": floor, "floor_durable_commit": disk,
        # Ordinary Deployments (no model server): the not-gated path, which must not ask OPA.
        "gate_not_gated": {**pooled(runs["not_gated"]), "opa_queries": not_gated_opa_queries},
        "gate_p50_ratio_to_floor_p50": result["latency_ms"]["median"] / floor["latency_ms"]["median"],
        "gate_p99_ratio_to_floor_p99": result["latency_ms"]["p99"] / floor["latency_ms"]["p99"],
        "per_round": per_round,
    }
    path = write_result("webhook", report)
    print(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
