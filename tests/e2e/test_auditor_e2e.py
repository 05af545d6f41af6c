"""The background auditor against the real kube-apiserver, a real OPA and a real SQLite
decision log; time is the injected clock, moved by the test (never slept).

One story, in order: a compliant InferenceService gets a passing PolicyReport (and an
inventory row); evidence republished with PII findings fails it at once, compliant
evidence republished passes it again; the evidence source going away fails it, its return
passes it; 10 days before the sign-offs expire the report warns; they expire and the next
cycle fails the report (`signoff.role`), emits an Event, flips the gauge and logs a
background decision; OPA going down flips nothing to pass and shows; OPA back with a
tightened matrix threshold (a new policy revision) re-judges at once; deleting the
workload removes its report.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client
from prometheus_client import REGISTRY

from gatekeeper.audit import open_store
from gatekeeper.auditor.client import REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION, Cluster, Leases
from gatekeeper.auditor.lease import Elector
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.config import Settings
from gatekeeper.pipeline.assemble import open_gate

from ..clock import FakeClock
from ..conftest import EVIDENCE, POLICIES, run_cli
from .conftest import ENVIRONMENT_LABEL, load_manifest
from .kube import Kube, wait_for, with_namespace

pytestmark = [pytest.mark.e2e]

NAMESPACE = "audited"
NAME = "credit-scoring-audited"


def signoff_expiry(role: str) -> datetime:
    """When the example sign-off of credit-scoring 3 in role expires (scripts/make-examples.py signs them)."""
    envelope = json.loads((EVIDENCE / "credit-scoring" / "3" / "signoffs" / f"{role}.dsse.json").read_text())
    expires_at = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["expires_at"]
    return datetime.fromisoformat(expires_at.replace("Z", "+00:00"))


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


# The clock starts 51 days before the example sign-offs expire, and the PII scan and fairness
# evaluation are redone about four months before that (fresh then: they go stale 365 days later,
# after the sign-offs expire).
EXPIRIES = {role: signoff_expiry(role) for role in ("validator", "compliance")}
SIGNOFFS_EXPIRE, LAST_EXPIRY = min(EXPIRIES.values()), max(EXPIRIES.values())
START = (SIGNOFFS_EXPIRE - timedelta(days=51)).replace(hour=0, minute=0, second=0, microsecond=0)
SCANNED_AT = stamp(START - timedelta(days=122))


def evidence_copy(root: Path) -> Path:
    shutil.copytree(EVIDENCE, root)
    publish(root, open_findings=0)
    return root


def policies_copy(root: Path) -> Path:
    """policies/, whose sign-offs cover neither the PII scan nor fairness: this story re-runs both
    (a new result, new findings) without asking for new sign-offs, which the shipped
    matrix would (every section but drift is reviewed)."""
    shutil.copytree(POLICIES, root)
    path = root / "gatekeeper" / "matrix" / "requirements.yaml"
    text = path.read_text()
    assert "default: {reviews_all_but: [drift]," in text
    path.write_text(text.replace("default: {reviews_all_but: [drift],", "default: {reviews_all_but: [drift, pii_scan, fairness],"))
    return root


def publish(root: Path, *, open_findings: int) -> None:
    """(Re)publish credit-scoring 3's evidence with a PII scan and fairness evaluation made at SCANNED_AT."""
    path = root / "credit-scoring" / "3" / "evidence.yaml"
    bundle = yaml.safe_load(path.read_text())
    bundle["pii_scan"].update(scanned_at=SCANNED_AT, open_findings=open_findings)
    for results in bundle["fairness"].values():
        results["evaluated_at"] = SCANNED_AT
    path.write_text(yaml.safe_dump(bundle))


def tighten(policies: Path) -> None:
    """The compliance team raises high risk's demographic parity floor above the example's 0.85."""
    path = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    text = path.read_text()
    assert "demographic_parity_ratio_min: 0.80" in text
    path.write_text(text.replace("demographic_parity_ratio_min: 0.80", "demographic_parity_ratio_min: 0.95", 1))


def report(kube: Kube) -> dict[str, Any] | None:
    custom = client.CustomObjectsApi(kube.api_client)
    try:
        return custom.get_namespaced_custom_object(REPORT_GROUP, REPORT_VERSION, NAMESPACE, REPORT_PLURAL,
                                                   f"gatekeeper-inferenceservice-{NAME}")
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def results(kube: Kube) -> dict[str, set[str]]:
    """result -> the policies (requirements) with that result."""
    found: dict[str, set[str]] = {}
    for r in (report(kube) or {}).get("results", []):
        found.setdefault(r["result"], set()).add(r["policy"])
    return found


def events(kube: Kube) -> list[tuple[str, str]]:
    listed = kube.core.list_namespaced_event(NAMESPACE, field_selector=f"involvedObject.name={NAME}")
    return [(e.type, e.reason) for e in sorted(listed.items, key=lambda e: e.metadata.creation_timestamp)]


def gauge(metric: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


async def watched(auditor: Auditor, seen: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait until the auditor's watch has delivered a change (`seen()` holds). This waits
    for the API server's event to arrive, never for time to pass: the clock is injected."""
    deadline = time.monotonic() + timeout
    while not seen():
        assert time.monotonic() < deadline, "the watch did not deliver the change"
        await asyncio.sleep(0.05)


KEY = f"{NAMESPACE}/InferenceService/{NAME}"  # how a cycle names what it judged
COMPLIANT_LABELS = {"namespace": NAMESPACE, "kind": "InferenceService", "name": NAME,
                    "model": "credit-scoring", "version": "3", "risk_class": "high"}


def inventory(control_plane, fmt: str = "json"):  # type: ignore[no-untyped-def]
    listed = run_cli("inventory", "--kubeconfig", str(control_plane.kubeconfig_path), "--format", fmt)
    assert listed.code == 0, listed.stderr
    return listed


def row(control_plane) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    [found] = [r for r in inventory(control_plane).json() if r["namespace"] == NAMESPACE and r["name"] == NAME]
    return found


def test_the_auditor_follows_a_running_model(kube: Kube, control_plane, tmp_path: Path) -> None:
    kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": NAMESPACE, "labels": {ENVIRONMENT_LABEL: "production"}}})
    policies = policies_copy(tmp_path / "policies")
    audit_db = f"sqlite:///{tmp_path}/audit.db"
    evidence = evidence_copy(tmp_path / "evidence")
    settings = Settings(policy_dir=policies, evidence_dir=evidence, evidence_cache_ttl=0.0)
    clock = FakeClock(START)
    workload = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), NAMESPACE, NAME)
    kube.create(workload)

    async def story() -> None:
        async with await open_store(audit_db) as audit, open_gate(settings, clock=clock.now) as gate:
            auditor = Auditor(gate, Cluster(kube.api_client), audit=audit)
            first = await auditor.cycle()
            assert first.failure == "" and first.judged[KEY] == "new"
            passing = results(kube)
            assert passing.get("fail") is None and {"signoff", "fairness", "pii"} <= passing["pass"]
            assert report(kube)["scope"]["uid"] == kube.get("InferenceService", NAMESPACE, NAME)["metadata"]["uid"]
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 1
            validator = {"namespace": NAMESPACE, "kind": "InferenceService", "name": NAME, "model": "credit-scoring",
                         "version": "3", "statement": "signoff", "statement_name": "validator"}
            assert gauge("gatekeeper_statement_expiry_seconds", **validator) == (
                EXPIRIES["validator"] - START).total_seconds()
            pii_scan = {**validator, "statement": "evidence", "statement_name": "pii_scan"}
            stale = START - timedelta(days=122) + timedelta(days=365)  # 365 days after the scan
            assert gauge("gatekeeper_statement_expiry_seconds", **pii_scan) == (stale - START).total_seconds()
            assert events(kube) == []
            assert row(control_plane) == {
                "namespace": NAMESPACE, "kind": "InferenceService", "name": NAME, "environment": "production",
                "models": ["credit-scoring@3"], "risk_class": "high", "compliant": "true", "violations": [],
                "earliest_expiry": stamp(SIGNOFFS_EXPIRE), "error": "",
            }
            csv_lines = inventory(control_plane, "csv").stdout.splitlines()
            assert csv_lines[0] == "namespace,kind,name,environment,models,risk_class,compliant,violations,earliest_expiry,error"
            assert (f"{NAMESPACE},InferenceService,{NAME},production,credit-scoring@3,high,true,,"
                    f"{stamp(SIGNOFFS_EXPIRE)},") in csv_lines
            table = inventory(control_plane, "table").stdout
            assert NAME in table and "credit-scoring@3" in table

            # nothing is due a minute later: nothing re-judged
            clock.advance(60)
            assert KEY not in (await auditor.cycle()).judged

            # evidence republished with open PII findings: re-judged at once (no resync due)
            publish(evidence, open_findings=3)
            clock.advance(60)
            assert (await auditor.cycle()).judged[KEY] == "evidence"
            assert results(kube)["fail"] == {"pii.open_findings"}
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 0
            # compliant evidence republished: the report passes again
            publish(evidence, open_findings=0)
            clock.advance(60)
            assert (await auditor.cycle()).judged[KEY] == "evidence"
            assert results(kube).get("fail") is None and "pii" in results(kube)["pass"]
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 1
            assert sorted(events(kube)) == [("Normal", "Compliant"), ("Warning", "NonCompliant")]

            # the evidence source goes away: no pass, the failure shows; back: it catches up
            away = evidence.with_name("evidence-away")
            evidence.rename(away)
            clock.advance(60)
            assert (await auditor.cycle()).judged[KEY] == "evidence"
            assert len(results(kube)["fail"]) == 1 and results(kube)["fail"] <= {"evidence.missing", "evidence.unavailable"}
            assert results(kube).get("pass", set()) <= {"classification"}  # nothing judged without evidence passes
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 0
            away.rename(evidence)
            clock.advance(60)
            assert (await auditor.cycle()).judged[KEY] == "evidence"
            assert results(kube).get("fail") is None
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 1

            # 10 days before expiry: the resync is due, the report warns
            clock.wall = SIGNOFFS_EXPIRE - timedelta(days=10)
            assert (await auditor.cycle()).judged[KEY] == "resync"
            assert {"signoff.role"} <= results(kube)["warn"] and results(kube).get("fail") is None

            # the sign-offs expire: within one cycle the report fails, an Event, the gauge, the log
            clock.wall = LAST_EXPIRY + timedelta(seconds=1)
            assert (await auditor.cycle()).judged[KEY] == "expiry"
            assert "signoff.role" in results(kube)["fail"] and "signoff" not in results(kube).get("pass", set())
            assert sorted(events(kube)) == [("Normal", "Compliant")] * 2 + [("Warning", "NonCompliant")] * 3
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 0

            # OPA goes down: no report flips to pass, the failure shows, nothing crashes
            assert gate.opa_server is not None
            port = gate.opa_server.port
            gate.opa_server.stop()
            before = float(gauge("gatekeeper_auditor_failures_total", component="opa") or 0)
            clock.advance(601)
            down = await auditor.cycle()
            assert down.judged and "policy" in down.failure
            assert "signoff.role" in results(kube)["fail"] and "gatekeeper.evaluation" in results(kube)["error"]
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) == 0
            assert float(gauge("gatekeeper_auditor_failures_total", component="opa") or 0) > before
            down_row = row(control_plane)
            assert down_row["compliant"] == "false" and down_row["violations"] == ["signoff.role"]
            assert "could not re-judge" in down_row["error"]

            # a tightened threshold: OPA comes back with a new policy revision and the
            # workload is re-judged at once, no resync due
            tighten(policies)
            gate.opa_server.start(port=port)
            clock.advance(1)
            back = await auditor.cycle()
            assert back.failure == "" and back.judged[KEY] == "policy"
            assert "fairness.demographic_parity_ratio" in results(kube)["fail"]
            assert "error" not in results(kube)
            tightened = row(control_plane)
            assert tightened["violations"] == ["fairness.demographic_parity_ratio", "signoff.role"]
            # the sign-offs are gone; what still runs out is the evidence, when it goes stale
            assert tightened["error"] == "" and tightened["earliest_expiry"] == stamp(
                START - timedelta(days=122) + timedelta(days=365))

            # the workload goes: its report goes (once the watch has told the auditor)
            uid = kube.get("InferenceService", NAMESPACE, NAME)["metadata"]["uid"]
            kube.delete("InferenceService", NAMESPACE, NAME)
            await watched(auditor, lambda: uid not in {w["metadata"]["uid"] for w in auditor.cache.workloads()})
            gone = await auditor.cycle()
            assert f"{NAMESPACE}/gatekeeper-inferenceservice-{NAME}" in gone.removed and report(kube) is None
            assert gauge("gatekeeper_workload_compliant", **COMPLIANT_LABELS) is None
            auditor.close()  # (its watch threads would also end once this event loop is closed)

    asyncio.run(story())

    listed = run_cli("audit", "list", "--audit-db", audit_db, "--source", "background", "--format", "json")
    assert listed.code == 0, listed.stderr
    records = [r for r in listed.json() if r["object"]["name"] == NAME]
    [missing] = [v for r in records for v in r["violations"] if v["requirement"].startswith("evidence.")]
    # first judged, PII findings published, fixed, sign-offs expired, threshold tightened
    assert [(r["outcome"], sorted({v["requirement"] for v in r["violations"]})) for r in reversed(records)] == [
        ("admitted", []), ("denied", ["pii.open_findings"]), ("admitted", []),
        ("denied", [missing["requirement"]]), ("admitted", []), ("denied", ["signoff.role"]),
        ("denied", ["fairness.demographic_parity_ratio", "signoff.role"]),
    ]
    assert all(r["source"] == "background" for r in records)
    # each with the OPA input it was decided on, so `policy impact --from-log` can replay it
    assert all(r["input_digest"] and r["input_digest"].startswith("sha256:") for r in records)


LEASE = "auditor-election-test"


def test_one_replica_audits_at_a_time_and_an_unreachable_api_shows(kube: Kube, tmp_path: Path) -> None:
    settings = Settings(evidence_dir=EVIDENCE)
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=timezone.utc))
    dead = client.ApiClient(client.Configuration(host="http://127.0.0.1:9"))

    async def story() -> None:
        async with open_gate(settings, clock=clock.now) as gate:
            cluster = Cluster(kube.api_client)
            leases = Leases(cluster)
            # its own Lease: the fake clock's renewals lie in the real future, and would keep
            # the monitor test's process (real clock) a follower
            first = Auditor(gate, cluster, elector=Elector(leases, "default", "replica-a", name=LEASE))
            second = Auditor(gate, cluster, elector=Elector(leases, "default", "replica-b", name=LEASE))
            assert (await first.cycle()).leader
            follower = await second.cycle()
            assert not follower.leader and follower.judged == {} and follower.failure == ""
            clock.advance(30)
            assert (await first.cycle()).leader and not (await second.cycle()).leader
            # replica-a stops renewing: once the lease has run out, replica-b takes over
            clock.advance(61)
            assert (await second.cycle()).leader and not (await first.cycle()).leader
            lease = client.CoordinationV1Api(kube.api_client).read_namespaced_lease(LEASE, "default")
            assert lease.spec.holder_identity == "replica-b" and lease.spec.lease_transitions == 1
            first.close(), second.close()

            # the Kubernetes API unreachable: counted, shown, no crash; nothing written
            before = float(REGISTRY.get_sample_value("gatekeeper_auditor_failures_total",
                                                     {"component": "kubernetes"}) or 0)
            cut_off = await Auditor(gate, Cluster(dead)).cycle()
            assert cut_off.failure.startswith("kubernetes: list namespaces") and cut_off.judged == {}
            assert float(REGISTRY.get_sample_value("gatekeeper_auditor_failures_total",
                                                   {"component": "kubernetes"}) or 0) == before + 1

    try:
        asyncio.run(story())
    finally:
        dead.close()


def test_gatekeeper_monitor_publishes_reports_and_metrics(kube: Kube, control_plane, tmp_path: Path) -> None:
    """The command as deployed runs it: a real process, the real clock, a short interval."""
    namespace, name = "monitored", "credit-scoring-monitored"
    kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": namespace, "labels": {ENVIRONMENT_LABEL: "production"}}})
    kube.create(with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), namespace, name))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gatekeeper", "monitor", "--kubeconfig", str(control_plane.kubeconfig_path),
         "--interval", "0.5", "--metrics-port", str(port), "--evidence", str(EVIDENCE),
         "--audit-db", f"sqlite:///{tmp_path}/audit.db"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "POD_NAMESPACE": "default"})
    custom = client.CustomObjectsApi(kube.api_client)
    try:
        def report_or_exit() -> dict[str, Any] | None:
            assert process.poll() is None, f"gatekeeper monitor exited {process.returncode}: {process.communicate()[1]}"
            return _get(custom, namespace, f"gatekeeper-inferenceservice-{name}")

        published = wait_for("the monitor's PolicyReport", report_or_exit, timeout=60)
        assert published["summary"]["fail"] == 0 and published["summary"]["pass"] > 0
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        assert f'gatekeeper_workload_compliant{{kind="InferenceService",model="credit-scoring",name="{name}"' in metrics
        assert process.poll() is None
        # --nice (default 10): the auditor and the OPA it started yield shared cores to admission
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        [opa] = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(process.pid), "opa"],
                                                    capture_output=True, text=True).stdout.split()]
        assert os.getpriority(os.PRIO_PROCESS, process.pid) == os.getpriority(os.PRIO_PROCESS, opa) == min(ours + 10, 19)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "Traceback" not in stderr


def _get(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any] | None:
    try:
        return custom.get_namespaced_custom_object(REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, name)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
