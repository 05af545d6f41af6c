"""The console at scale: `gatekeeper console` (its own process, its own OPA) over a real
kube-apiserver holding 1,000 workloads' PolicyReports (10 namespaces, two environments,
one in three failing) and a SQLite decision log of 100,000 records (50 versions of
credit-scoring, one in three denied).

What it measures (issue 22's targets: server time per page p50 <= 100 ms, p99 <= 300 ms;
the console's RSS): each page requested --requests times in turn, one at a time, over
loopback with the bearer token, after one warm-up request per page. The time is the whole
request as the client sees it (HTTP on loopback included); the console's caches (the
inventory for 5 s, a version's judgement for 30 s) expire on the real clock between
requests as they would for a reader. RSS: the console process's VmRSS and peak (VmHWM)
after the run, its OPA child apart.

Run: `.venv/bin/python -m bench.console_bench [--workloads 1000 --decisions 100000 --requests 50]`
Writes bench-results/console.json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from .audit_log_bench import build
from .common import ROOT, summary, write_result

NAMESPACES = 10
PAGES = ["/", "/models", "/models/credit-scoring/3", "/workloads", "/workloads?compliant=false",
         "/decisions", "/decisions?model=credit-scoring@4&outcome=denied", "/decisions/bench-99999", "/policy"]


def reports(count: int) -> list[dict[str, Any]]:
    """PolicyReports as the auditor writes them (auditor.policyreports), for `count` workloads."""
    from gatekeeper.auditor.policyreports import policy_report, results_of
    from gatekeeper.types.decision import DecidedModel, Decision, ObjectRef, Violation

    now = datetime.now(timezone.utc)
    made = []
    for i in range(count):
        namespace, environment = f"team-{i % NAMESPACES}", ("production" if i % 2 == 0 else "staging")
        version = str(3 + i % 11)
        unfair = i % 3 == 0
        decision = Decision(
            object=ObjectRef(apiVersion="serving.kserve.io/v1beta1", kind="InferenceService", namespace=namespace,
                             name=f"svc-{i}"),
            environment=environment, allowed=not unfair, enforcement="deny", operation="CREATE",
            models=[DecidedModel(ref=f"models:/credit-scoring/{version}", name="credit-scoring", version=version,
                                 risk_class="high")],
            violations=[Violation(requirement="fairness.demographic_parity_ratio", model="credit-scoring",
                                  version=version, message="demographic parity ratio for 'sex' is 0.62, below 0.80",
                                  observed=0.62, threshold=0.8)] if unfair else [])
        workload = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                    "metadata": {"name": f"svc-{i}", "namespace": namespace, "uid": f"00000000-0000-0000-0000-{i:012d}"}}
        made.append(policy_report(workload, results_of(decision, now), decision))
    return made


def populate(api: Any, items: list[dict[str, Any]]) -> float:
    from kubernetes import client

    started = time.perf_counter()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    for n in range(NAMESPACES):
        core.create_namespace({"metadata": {"name": f"team-{n}"}})
    for report in items:
        custom.create_namespaced_custom_object("wgpolicyk8s.io", "v1alpha2", report["metadata"]["namespace"],
                                               "policyreports", report)
    return time.perf_counter() - started


def rss_mb(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "peak_mb": int(fields["VmHWM"].split()[0]) / 1024}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from kubernetes import config

    from tests.e2e.cluster import KubeControlPlane
    from tests.e2e.conftest import CRDS, install_crds

    audit_db = f"sqlite:///{work / 'audit.db'}"
    started = time.perf_counter()
    asyncio.run(build(audit_db, args.decisions))
    log_s = time.perf_counter() - started
    plane = KubeControlPlane(work / "kube")
    plane.start()
    console = None
    try:
        api = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        install_crds(api, sorted(CRDS.glob("*.yaml")))
        populate_s = populate(api, reports(args.workloads))
        token, port = secrets.token_hex(24), free_port()
        console = subprocess.Popen(
            [sys.executable, "-m", "gatekeeper", "console", "--port", str(port), "--audit-db", audit_db,
             "--evidence", str(ROOT / "examples" / "evidence"), "--kubeconfig", str(plane.kubeconfig_path)],
            env={**os.environ, "GATEKEEPER_CONSOLE_TOKEN": token, "KUBERNETES_SERVICE_HOST": ""},
            stdout=subprocess.DEVNULL, stderr=open(work / "console.log", "wb"))
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, headers={"authorization": f"Bearer {token}", "accept": "text/html"},
                          timeout=60) as http:
            wait_ready(http, console, work)
            timings: dict[str, list[float]] = {}
            for page in PAGES:  # one warm-up each: the first read of the log and the cluster
                answer = http.get(page)
                assert answer.status_code == 200, (page, answer.status_code, answer.text[:300])
                assert "svc-" in answer.text or page.startswith(("/models", "/policy", "/decisions")), page
            for _ in range(args.requests):
                for page in PAGES:
                    sent = time.perf_counter()
                    answer = http.get(page)
                    timings.setdefault(page, []).append((time.perf_counter() - sent) * 1000)
                    assert answer.status_code == 200, (page, answer.status_code)
        memory = rss_mb(console.pid)
        opa = [rss_mb(pid) for pid in children(console.pid)]
    finally:
        if console is not None:
            console.terminate()
            console.wait(timeout=30)
        plane.stop()
    pages = {page: {k: round(v, 1) for k, v in summary(ms).items()} for page, ms in timings.items()}
    return {"workloads": args.workloads, "decisions": args.decisions, "requests_per_page": args.requests,
            "pages_ms": pages, "console": memory, "opa": opa[0] if opa else None,
            "setup_s": {"log": round(log_s, 1), "reports": round(populate_s, 1)}}


def wait_ready(http: httpx.Client, console: subprocess.Popen[bytes], work: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if console.poll() is not None:
            raise SystemExit(f"gatekeeper console exited {console.returncode}:\n{(work / 'console.log').read_text()}")
        try:
            if http.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("gatekeeper console did not answer /healthz within 120 s")


def free_port() -> int:
    from gatekeeper.opa.server import free_port as port

    return port()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as work:
        result = measure(args, Path(work))
    print(f"console: {result['workloads']} workloads, {result['decisions']} decisions, "
          f"{result['requests_per_page']} requests per page (ms)")
    for page, stats in result["pages_ms"].items():
        print(f"  {page:50s} p50 {stats['median']:7.1f}  p99 {stats['p99']:7.1f}  max {stats['max']:7.1f}")
    print(f"  console RSS {result['console']['rss_mb']:.0f} MB (peak {result['console']['peak_mb']:.0f} MB)"
          + (f", its OPA {result['opa']['rss_mb']:.0f} MB" if result["opa"] else ""))
    print(f"  wrote {write_result('console', result)}")


if __name__ == "__main__":
    main()
