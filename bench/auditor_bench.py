"""The background auditor against the real kube-apiserver: 1,000 running InferenceServices
serving 100 model versions (20 models x 5 versions, signed evidence, one version in ten
failing fairness), in 10 production namespaces.

What it measures (issue 15's targets: a full resync within 10 s, auditor RSS at most
250 MB, admission latency during a resync within 20 % of idle):
- the wall time of the first cycle (every workload new: judged, reports created, records)
  and of forced full resyncs (the injected clock moved past the resync period, so every
  workload is due; the evidence cache, on the same clock, is cold as it would be);
- the auditor's peak RSS: the auditor runs as its own process (this module with
  --auditor, the same objects `gatekeeper monitor` builds, with an injected clock), and
  reports getrusage's ru_maxrss; its OPA (a sidecar when deployed) is measured apart;
- /validate/production latency of a running `gatekeeper serve` (its own OPA), open loop
  at --rate, while idle and while a resync runs, interleaved round by round on this
  machine (the gate, the auditor, two OPAs and the API server share its cores).

Run: `.venv/bin/python -m bench.auditor_bench [--workloads 1000 --versions 100 --resyncs 8]`
Writes bench-results/auditor.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import hashlib
import json
import resource
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from prometheus_client.parser import text_string_to_metric_families

from .common import ROOT, summary, write_result

EXAMPLE = ROOT / "examples" / "evidence" / "credit-scoring" / "3"
MODELS, NAMESPACES = 20, 10
RESYNC = timedelta(minutes=10)


# --- inputs: signed evidence for the versions, the policies trusting its signers ------------------


def make_evidence(root: Path, versions: int) -> tuple[Path, Path, list[tuple[str, str]]]:
    """An evidence folder with `versions` signed versions, and a copy of policies/ whose
    trusted signers are the throwaway keys that signed them. (model, version) pairs."""
    from securesystemslib.signer import CryptoSigner

    from gatekeeper.evidence.sections import review, reviewed_sections
    from gatekeeper.evidence.signing.statements import SIGNOFF_PREDICATE, sign_statement, signoff_predicate
    from gatekeeper.types.bundle import EvidenceBundle

    people = {"alice@example.com": "validator", "bob@example.com": "compliance"}
    keys = {name: CryptoSigner.generate_ed25519() for name in people}
    policies = root / "policies"
    shutil.copytree(ROOT / "policies", policies)
    signers = [{"name": name, "roles": [role], "keys": [{
        "keyid": keys[name].public_key.keyid, "scheme": keys[name].public_key.scheme,
        "keytype": keys[name].public_key.keytype, "public": keys[name].public_key.keyval["public"]}]}
        for name, role in people.items()]
    (policies / "gatekeeper" / "signers" / "signers.yaml").write_text(yaml.safe_dump({"signers": signers}))
    register = policies / "gatekeeper" / "classification" / "register.yaml"
    register.write_text(yaml.safe_dump({"models": [{"model": "bench-model-*", "risk_class": "high",
                                                    "decided_by": "bench", "decided_at": "2026-11-01"}]}))

    base = yaml.safe_load((EXAMPLE / "evidence.yaml").read_text())
    pairs = [(f"bench-model-{i % MODELS:02d}", str(1 + i // MODELS)) for i in range(versions)]
    for n, (model, version) in enumerate(pairs):
        folder = root / "evidence" / model / version
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("signoffs"))
        bundle = copy.deepcopy(base)
        digest = "sha256:" + hashlib.sha256(f"{model}-{version}".encode()).hexdigest()
        bundle.update(model=model, version=version, artifact={"uri": f"s3://models/{model}/{version}", "digest": digest})
        if n % 10 == 9:  # one version in ten fails fairness
            bundle["fairness"]["sex"]["demographic_parity_ratio"] = 0.62
        (folder / "evidence.yaml").write_text(yaml.safe_dump(bundle, sort_keys=False))
        (folder / "signoffs").mkdir()
        files = {path: (folder / path).read_bytes() for path in ("model-card.md", "shap-importance.json")}
        reviewed = review(EvidenceBundle.model_validate(bundle), files, reviewed_sections({"reviews_all_but": ["drift"]}))
        for person, role in people.items():
            predicate = signoff_predicate(model=model, version=version, role=role, signer=person,
                                          expires=timedelta(days=365), reviewed=reviewed)
            envelope = sign_statement(predicate_type=SIGNOFF_PREDICATE, subject_name=f"models:/{model}/{version}",
                                      digest=digest, predicate=predicate, signer=keys[person])
            (folder / "signoffs" / f"{role}.dsse.json").write_text(json.dumps(envelope))
    return policies, root / "evidence", pairs


def workload(j: int, model: str, version: str) -> dict[str, Any]:
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": f"svc-{j:04d}", "namespace": f"bench-{j % NAMESPACES:02d}",
                         "annotations": {"model-gatekeeper.io/model": f"models:/{model}/{version}"}},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "sklearn"},
                                             "storageUri": f"s3://models/{model}/{version}"}}}}


def populate(api_client: Any, objects: list[dict[str, Any]]) -> float:
    """Create the namespaces and workloads (8 at a time); the seconds it took."""
    from kubernetes import client

    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    for n in range(NAMESPACES):
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": f"bench-{n:02d}", "labels": {"model-gatekeeper.io/environment": "production"}}})
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda o: custom.create_namespaced_custom_object(
            "serving.kserve.io", "v1beta1", o["metadata"]["namespace"], "inferenceservices", o), objects))
    return time.perf_counter() - started


def server_requests(control_plane: Any, resource_name: str) -> dict[str, float]:
    """Requests the API server has answered for `resource_name`, by verb (its own counter)."""
    with urllib.request.urlopen(f"{control_plane.server}/metrics", context=control_plane.ssl_context()) as answer:
        text = answer.read().decode()
    verbs: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "apiserver_request_total" and s.labels.get("resource") == resource_name:
                verbs[s.labels["verb"]] = verbs.get(s.labels["verb"], 0) + s.value
    return verbs


def delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {verb: n - before.get(verb, 0) for verb, n in after.items() if n - before.get(verb, 0)}


# --- the auditor process ------------------------------------------------------------------------


async def auditor_process(args: argparse.Namespace) -> None:
    """Commands on stdin, one JSON line per answer on stdout: `cycle` (now), `resync` (the
    clock moved past the resync period first), `quit`."""
    import structlog
    from kubernetes import config

    from tests.clock import FakeClock

    from gatekeeper.audit import open_store
    from gatekeeper.auditor.client import Cluster
    from gatekeeper.auditor.monitor import yield_cpu
    from gatekeeper.auditor.rejudge import Auditor
    from gatekeeper.config import Settings
    from gatekeeper.evidence.lookup import EvidenceLookup
    from gatekeeper.evidence.signing.trust import TrustStore
    from gatekeeper.opa.server import SERVING_OPA_PROCESSORS
    from gatekeeper.pipeline.assemble import open_gate

    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # stdout is for answers
    clock = FakeClock()
    settings = Settings(policy_dir=args.policy_dir, evidence_dir=args.evidence)
    api = config.new_client_from_config(config_file=str(args.kubeconfig))
    loop = asyncio.get_running_loop()
    processors = SERVING_OPA_PROCESSORS if args.opa_processors is None else args.opa_processors or None
    yield_cpu(args.nice)  # as `gatekeeper monitor --nice` does, before its OPA starts
    async with await open_store(args.audit_db) as audit, open_gate(settings, clock=clock.now,
                                                               opa_processors=processors) as gate:
        # the evidence cache on the injected clock too: a resync 10 minutes on finds it cold
        gate.lookup = EvidenceLookup(gate.lookup.source, timeout=settings.evidence_timeout,
                                     ttl=settings.evidence_cache_ttl, clock=clock.monotonic)
        gate.lookup.trust(TrustStore.from_data(gate.facts.signers))
        auditor = Auditor(gate, Cluster(api), audit=audit, resync=RESYNC)
        print(json.dumps({"ready": True, "opa_pid": gate.opa_server.pid if gate.opa_server else None}), flush=True)
        while (command := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) not in ("quit", ""):
            clock.advance(RESYNC.total_seconds() + 1 if command == "resync" else 1)
            started = time.monotonic()
            result = await auditor.cycle()
            ended = time.monotonic()
            triggers: dict[str, int] = {}
            for trigger in result.judged.values():
                triggers[trigger] = triggers.get(trigger, 0) + 1
            print(json.dumps({"started": started, "ended": ended, "seconds": ended - started, "triggers": triggers,
                              "failure": result.failure, "lists": dict(getattr(auditor.cluster, "lists", {})),
                              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        getattr(auditor, "close", lambda: None)()


class AuditorProcess:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.process: asyncio.subprocess.Process | None = None
        self.opa_pid: int | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.auditor_bench", "--auditor", *self.argv, cwd=ROOT,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        self.opa_pid = (await self._answer())["opa_pid"]

    async def _answer(self) -> dict[str, Any]:
        assert self.process and self.process.stdout
        line = await self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the auditor process ended (exit {await self.process.wait()})")
        return json.loads(line)  # type: ignore[no-any-return]

    async def run(self, command: str) -> dict[str, Any]:
        assert self.process and self.process.stdin
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        answer = await self._answer()
        if answer["failure"]:
            raise SystemExit(f"the {command} cycle failed: {answer['failure']}")
        return answer

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.stdin.write(b"quit\n")  # type: ignore[union-attr]
            await self.process.wait()


def peak_rss_mb(pid: int | None) -> float | None:
    """VmHWM (peak resident set) of a process (Linux), in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return None


# --- admission load -----------------------------------------------------------------------------


async def load(url: str, bodies: list[bytes], rate: float, until: asyncio.Future | float) -> list[tuple[float, float]]:
    """Reviews posted open loop at `rate` per second until `until` (a future that completes,
    or seconds); each as (monotonic time sent, latency in ms)."""
    from gatekeeper.opa.transport import OpaConnections

    parts = urlsplit(url)
    pool = OpaConnections(parts.hostname or "127.0.0.1", parts.port or 80, max_connections=64)
    answered: list[tuple[float, float]] = []

    async def one(body: bytes) -> None:
        sent = time.monotonic()
        answer = await pool.post_json(parts.path, body)
        assert answer.status == 200, answer.status
        answered.append((sent, (time.monotonic() - sent) * 1000))

    begin, tasks = time.monotonic(), []
    try:
        for i in range(10**9):
            if until.done() if isinstance(until, asyncio.Future) else time.monotonic() - begin >= until:
                break
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(bodies[i % len(bodies)])))
        await asyncio.gather(*tasks)
    finally:
        await pool.close()
    return answered


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from kubernetes import config

    from tests.e2e.cluster import KubeControlPlane
    from tests.e2e.conftest import CRDS, install_crds
    from tests.webhook.server import GateProcess

    from .webhook_bench import admission_review

    policies, evidence, pairs = make_evidence(work, args.versions)
    objects = [workload(j, *pairs[j % len(pairs)]) for j in range(args.workloads)]
    plane = KubeControlPlane(work / "kube")
    plane.start()
    gate = auditor = None
    try:
        api = config.new_client_from_config(config_file=str(plane.kubeconfig_path))
        install_crds(api, sorted(CRDS.glob("*.yaml")))
        created_s = populate(api, objects)
        gate = GateProcess(work, "--policy-dir", str(policies), "--evidence", str(evidence)).start()
        reviews = [admission_review(o, f"bench-{j}") for j, o in enumerate(objects[:len(pairs)])]
        await load(f"{gate.url}/validate/production", reviews, args.rate, 2.0)  # warm-up, not measured

        auditor = AuditorProcess(["--kubeconfig", str(plane.kubeconfig_path), "--policy-dir", str(policies),
                                  "--evidence", str(evidence), "--audit-db", f"sqlite:///{work / 'auditor.db'}",
                                  "--nice", str(args.nice),
                                  *(["--opa-processors", str(args.opa_processors)] if args.opa_processors is not None
                                    else [])])
        await auditor.start()
        first = await auditor.run("cycle")
        assert sum(first["triggers"].values()) == args.workloads, first["triggers"]
        quiet_before = server_requests(plane, "inferenceservices")
        quiet = [await auditor.run("cycle") for _ in range(3)]  # nothing due: what an ordinary tick costs
        quiet_requests = delta(server_requests(plane, "inferenceservices"), quiet_before)

        idle: list[float] = []
        during: list[float] = []
        resyncs: list[dict[str, Any]] = []
        reports_before = server_requests(plane, "policyreports")
        for round_no in range(args.resyncs):
            async def resync_under_load() -> None:
                pending = asyncio.ensure_future(auditor.run("resync"))
                answered = await load(f"{gate.url}/validate/production", reviews, args.rate, pending)
                answer = pending.result()
                assert sum(answer["triggers"].values()) == args.workloads, answer["triggers"]
                resyncs.append(answer)
                during.extend(ms for sent, ms in answered if answer["started"] <= sent <= answer["ended"])

            async def idle_load() -> None:
                seconds = max(2.0, resyncs[-1]["seconds"] if resyncs else first["seconds"] / 2)
                idle.extend(ms for _, ms in await load(f"{gate.url}/validate/production", reviews, args.rate, seconds))

            for step in ((idle_load, resync_under_load) if round_no % 2 == 0 else (resync_under_load, idle_load)):
                await step()
        report_writes = delta(server_requests(plane, "policyreports"), reports_before)
        auditor_rss = resyncs[-1]["maxrss_mb"]
        opa_rss = peak_rss_mb(auditor.opa_pid)
    finally:
        if auditor:
            await auditor.stop()
        if gate:
            gate.stop()
        plane.stop()

    seconds = [r["seconds"] for r in resyncs]
    idle_stats, during_stats = summary(idle), summary(during)
    return {
        "workloads": args.workloads, "model_versions": args.versions, "namespaces": NAMESPACES,
        "created_in_s": created_s,
        "first_cycle_s": first["seconds"], "first_cycle_triggers": first["triggers"],
        "quiet_cycle_s": [q["seconds"] for q in quiet],
        "quiet_cycles_inferenceservices_requests": quiet_requests,  # as the API server counted them
        "auditor_list_calls": resyncs[-1]["lists"],
        "full_resync_s": {k: summary(seconds)[k] for k in ("n", "median", "p99", "min", "max")},
        "full_resync_target_s": 10,
        "resync_report_writes": report_writes,
        "auditor_peak_rss_mb": auditor_rss, "auditor_rss_target_mb": 250,
        "auditor_opa_peak_rss_mb": opa_rss,
        "auditor_opa_processors": args.opa_processors if args.opa_processors is not None else 1,
        "auditor_nice": args.nice,
        "admission_rate_per_s": args.rate,
        "admission_idle_ms": {k: idle_stats[k] for k in ("n", "median", "p95", "p99", "max")},
        "admission_during_resync_ms": {k: during_stats[k] for k in ("n", "median", "p95", "p99", "max")},
        "admission_p50_ratio": during_stats["median"] / idle_stats["median"],
        "admission_p99_ratio": during_stats["p99"] / idle_stats["p99"],
        "admission_ratio_target": 1.2,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--resyncs", type=int, default=8)
    parser.add_argument("--rate", type=float, default=100.0, help="admission reviews per second")
    parser.add_argument("--nice", type=int, default=10,
                        help="niceness of the auditor and its OPA (default 10, as `gatekeeper monitor`; 0: the gate's)")
    parser.add_argument("--auditor", action="store_true", help=argparse.SUPPRESS)  # the auditor process
    parser.add_argument("--kubeconfig", type=Path)
    parser.add_argument("--policy-dir", type=Path)
    parser.add_argument("--evidence", type=Path)
    parser.add_argument("--audit-db")
    parser.add_argument("--opa-processors", type=int, default=None,
                        help="GOMAXPROCS of the auditor's OPA (default 1, as `gatekeeper monitor`; 0: Go's default)")
    args = parser.parse_args()
    if args.auditor:
        asyncio.run(auditor_process(args))
        return
    work = Path(tempfile.mkdtemp(prefix="gk-auditor-bench-"))
    try:
        report = asyncio.run(measure(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = write_result("auditor", report)
    print(json.dumps(report, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
