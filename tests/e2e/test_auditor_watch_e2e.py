"""The auditor lists once and then watches, and remembers what it judged across a restart;
against the real kube-apiserver, a real OPA and a real SQLite decision log. Time is the
injected clock; the tests wait only for the API server's watch events to arrive.

- Cycles with nothing changed list nothing: counted by the auditor's client and by the
  API server itself (`apiserver_request_total{verb="LIST"}` on its /metrics).
- A workload created or changed after the start is judged through the watch; a watch
  that breaks is listed again and catches up; with an hour-long interval, the loop is
  woken by the watch and a new workload gets its report within seconds.
- A fresh auditor over the same cluster and decision log (a restart) reads its reports
  back: no second background record, no second Event, no report rewritten; a real change
  afterwards is recorded. A replica taking the Lease over does the same.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from prometheus_client.parser import text_string_to_metric_families

from gatekeeper.audit import open_store
from gatekeeper.auditor import watch
from gatekeeper.auditor.client import REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION, Cluster, Leases, Resource
from gatekeeper.auditor.lease import Elector
from gatekeeper.auditor.monitor import run
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.config import Settings
from gatekeeper.pipeline.assemble import open_gate

from ..clock import FakeClock
from ..conftest import EVIDENCE, run_cli
from .conftest import ENVIRONMENT_LABEL, load_manifest
from .kube import Kube, with_namespace
from .test_auditor_e2e import gauge, watched

pytestmark = [pytest.mark.e2e]

INFERENCE_SERVICES = Resource("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService")
KSERVE = "inferenceservices.serving.kserve.io"  # how the auditor's client counts its lists


def namespace(kube: Kube, name: str) -> None:
    """A staging namespace: its enforcement is `warn`, so a non-compliant workload is
    admitted (with warnings) even while another test's webhook configuration is active."""
    kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                "metadata": {"name": name, "labels": {ENVIRONMENT_LABEL: "staging"}}})


def serve_version(kube: Kube, ns: str, name: str, version: str) -> str:
    """Change a running workload to serve another version; its new resourceVersion."""
    changed = kube.get("InferenceService", ns, name)
    wanted = serving(name, ns, version)
    changed["metadata"]["annotations"], changed["spec"] = wanted["metadata"]["annotations"], wanted["spec"]
    return str(kube.replace(changed).object["metadata"]["resourceVersion"])


def serving(name: str, ns: str, version: str = "3") -> dict[str, Any]:
    """The compliant example InferenceService, serving credit-scoring `version`."""
    obj = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), ns, name)
    obj["metadata"]["annotations"]["model-gatekeeper.io/model"] = f"models:/credit-scoring/{version}"
    obj["spec"]["predictor"]["model"]["storageUri"] = f"s3://models/credit-scoring/{version}"
    return obj


def report_of(kube: Kube, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return client.CustomObjectsApi(kube.api_client).get_namespaced_custom_object(
            REPORT_GROUP, REPORT_VERSION, ns, REPORT_PLURAL, f"gatekeeper-inferenceservice-{name}")
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def server_lists(control_plane, resource: str) -> float:  # type: ignore[no-untyped-def]
    """LIST requests the API server has answered for `resource` (its own counter)."""
    with urllib.request.urlopen(f"{control_plane.server}/metrics", context=control_plane.ssl_context()) as answer:
        text = answer.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "apiserver_request_total" and sample.labels.get("verb") == "LIST"
               and sample.labels.get("resource") == resource)


def background_records(audit_db: str, ns: str) -> list[tuple[str, str]]:
    """(workload, outcome) of each background record about namespace `ns`, as the CLI lists them."""
    listed = run_cli("audit", "list", "--audit-db", audit_db, "--source", "background", "--format", "json")
    assert listed.code == 0, listed.stderr
    return sorted((r["object"]["name"], r["outcome"]) for r in listed.json() if r["object"]["namespace"] == ns)


def in_cache(auditor: Auditor, name: str, resource_version: str | None = None) -> bool:
    return any(w["metadata"]["name"] == name and resource_version in (None, w["metadata"]["resourceVersion"])
               for w in auditor.cache.workloads())


def test_the_auditor_lists_once_then_follows_the_watch(kube: Kube, control_plane) -> None:
    ns = "watched"
    namespace(kube, ns)
    kube.create(serving("first", ns))
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=timezone.utc))

    def mine(judged: dict[str, str]) -> dict[str, str]:  # other tests' workloads share the API server
        return {key.rpartition("/")[2]: trigger for key, trigger in judged.items() if key.startswith(f"{ns}/")}

    async def story() -> None:
        async with open_gate(Settings(evidence_dir=EVIDENCE), clock=clock.now) as gate:
            cluster = Cluster(kube.api_client)
            auditor = Auditor(gate, cluster)
            start = await auditor.cycle()
            assert start.failure == "" and mine(start.judged) == {"first": "new"}
            assert {c: cluster.lists[c] for c in ("namespaces", KSERVE, "policyreports")} == {
                "namespaces": 1, KSERVE: 1, "policyreports": 1}
            listed, by_server = dict(cluster.lists), server_lists(control_plane, "inferenceservices")

            # several cycles with nothing changed: nothing listed, nothing of ours judged
            for _ in range(5):
                clock.advance(30)
                quiet = await auditor.cycle()
                assert quiet.failure == "" and mine(quiet.judged) == {}
            assert dict(cluster.lists) == listed
            assert server_lists(control_plane, "inferenceservices") == by_server

            # created after the start: the watch brings it (and wakes the loop); judged, not listed
            auditor.cache.wake.clear()
            kube.create(serving("second", ns))
            await watched(auditor, lambda: in_cache(auditor, "second") and auditor.cache.wake.is_set())
            clock.advance(1)
            assert mine((await auditor.cycle()).judged) == {"second": "new"}
            assert report_of(kube, ns, "second")["summary"]["fail"] == 0

            # a running workload changes to a model version that fails fairness: judged at once
            rv = serve_version(kube, ns, "first", "4")
            await watched(auditor, lambda: in_cache(auditor, "first", rv))
            clock.advance(1)
            assert mine((await auditor.cycle()).judged) == {"first": "changed"}
            assert {r["policy"] for r in report_of(kube, ns, "first")["results"] if r["result"] == "fail"} == {
                "fairness.demographic_parity_ratio"}
            assert dict(cluster.lists) == listed
            assert server_lists(control_plane, "inferenceservices") == by_server

            # the watch connection breaks: the next cycle lists again and catches up on
            # what happened while nothing was watching
            informer = auditor.cache.informers[Cluster.workloads(INFERENCE_SERVICES)]
            watch._cut(informer._response)
            await watched(auditor, lambda: not informer.synced)
            kube.create(serving("third", ns))
            clock.advance(1)
            assert mine((await auditor.cycle()).judged) == {"third": "new"}
            assert cluster.lists[KSERVE] == listed[KSERVE] + 1
            assert server_lists(control_plane, "inferenceservices") == by_server + 1

            # the loop, with an hour between ticks: the watch wakes it for a new workload
            stop = asyncio.Event()
            loop = asyncio.create_task(run(auditor, interval=timedelta(hours=1), stop=stop))
            await asyncio.sleep(0.5)  # (its first cycle)
            kube.create(serving("fourth", ns))
            started = time.monotonic()
            while report_of(kube, ns, "fourth") is None:
                assert time.monotonic() - started < 20, "a new workload waited for the interval"
                await asyncio.sleep(0.1)
            stop.set()
            await loop  # it closes the auditor: its watches end
            assert all(not i.synced for i in auditor.cache.informers.values()) and not auditor.cache.reports.synced
            cluster.close()

    asyncio.run(story())


def test_a_restarted_auditor_remembers_what_it_judged(kube: Kube, tmp_path: Path) -> None:
    ns = "remembered"
    namespace(kube, ns)
    kube.create(serving("steady", ns))
    kube.create(with_namespace(load_manifest("noncompliant/fairness-credit-scoring-4.yaml"), ns, "unfair"))
    audit_db = f"sqlite:///{tmp_path}/audit.db"
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=timezone.utc))
    labels = {"namespace": ns, "kind": "InferenceService", "name": "steady", "model": "credit-scoring",
              "version": "3", "risk_class": "high"}

    def records() -> list[tuple[str, str]]:
        return background_records(audit_db, ns)

    def events() -> list[tuple[str, str]]:
        listed = kube.core.list_namespaced_event(ns)
        return sorted((e.involved_object.name, e.reason) for e in listed.items)

    def versions() -> dict[str, str]:
        return {name: report_of(kube, ns, name)["metadata"]["resourceVersion"] for name in ("steady", "unfair")}

    async def judged_by(auditor: Auditor) -> dict[str, str]:
        result = await auditor.cycle()
        assert result.failure == ""
        return {k.rpartition("/")[2]: v for k, v in result.judged.items() if k.startswith(f"{ns}/")}

    async def story() -> None:
        async with await open_store(audit_db) as audit, open_gate(Settings(evidence_dir=EVIDENCE),
                                                                   clock=clock.now) as gate:
            before = Auditor(gate, Cluster(kube.api_client), audit=audit)
            assert await judged_by(before) == {"steady": "new", "unfair": "new"}
            before.close()
        assert records() == [("steady", "admitted"), ("unfair", "warned")]
        assert events() == [("unfair", "NonCompliant")]
        written = versions()

        # a restart: a new process (a new gate, OPA and decision-log connection), same cluster and log
        clock.advance(120)
        async with await open_store(audit_db) as audit, open_gate(Settings(evidence_dir=EVIDENCE),
                                                                   clock=clock.now) as gate:
            after = Auditor(gate, Cluster(kube.api_client), audit=audit)
            assert await judged_by(after) == {"steady": "restart", "unfair": "restart"}
            assert records() == [("steady", "admitted"), ("unfair", "warned")]  # no second record
            assert events() == [("unfair", "NonCompliant")]  # no second Event
            assert versions() == written  # nothing said differently: no report rewritten
            assert gauge("gatekeeper_workload_compliant", **labels) == 1
            clock.advance(60)
            assert await judged_by(after) == {}  # remembered now as judged, not due again

            # a real change still records: the steady workload now serves a version failing fairness
            rv = serve_version(kube, ns, "steady", "4")
            await watched(after, lambda: in_cache(after, "steady", rv))
            clock.advance(1)
            assert await judged_by(after) == {"steady": "changed"}
            after.close()
        assert records() == [("steady", "admitted"), ("steady", "warned"), ("unfair", "warned")]
        assert events() == [("steady", "NonCompliant"), ("unfair", "NonCompliant")]
        assert versions()["steady"] != written["steady"] and versions()["unfair"] == written["unfair"]

    asyncio.run(story())


def test_a_replica_taking_over_reads_the_reports_back(kube: Kube, tmp_path: Path) -> None:
    ns, lease = "taken-over", "auditor-takeover-test"  # its own Lease: the fake clock's renewals lie ahead
    namespace(kube, ns)
    kube.create(serving("steady", ns))
    audit_db = f"sqlite:///{tmp_path}/audit.db"
    clock = FakeClock(datetime(2026, 12, 1, tzinfo=timezone.utc))

    async def story() -> None:
        async with await open_store(audit_db) as audit, open_gate(Settings(evidence_dir=EVIDENCE),
                                                                   clock=clock.now) as gate:
            cluster = Cluster(kube.api_client)
            a, b = (Auditor(gate, cluster, audit=audit, elector=Elector(Leases(cluster), "default", who, name=lease))
                    for who in ("replica-a", "replica-b"))
            led = await a.cycle()
            assert led.leader and {k: v for k, v in led.judged.items() if k.startswith(ns)} == {
                f"{ns}/InferenceService/steady": "new"}
            assert not (await b.cycle()).leader
            clock.advance(61)  # replica-a stopped renewing: replica-b takes over, its reports in hand
            taken = await b.cycle()
            assert taken.leader and {k: v for k, v in taken.judged.items() if k.startswith(ns)} == {
                f"{ns}/InferenceService/steady": "restart"}
            a.close(), b.close()

    asyncio.run(story())
    assert background_records(audit_db, ns) == [("steady", "admitted")]  # not a second time by the new leader
