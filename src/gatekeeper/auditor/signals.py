"""What the auditor tells people and dashboards: Prometheus gauges and Kubernetes Events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge

COMPLIANT = Gauge(
    "gatekeeper_workload_compliant", "1 when the running workload meets every requirement, 0 when not",
    ["namespace", "kind", "name", "model", "version", "risk_class"],
)
EXPIRY_SECONDS = Gauge(
    "gatekeeper_statement_expiry_seconds", "Seconds until a sign-off or waiver a running workload rests on expires",
    ["namespace", "kind", "name", "model", "version", "statement", "statement_name"],
)
FAILURES = Counter(
    "gatekeeper_auditor_failures_total", "Background re-judgements or cycles that could not be completed",
    ["component"],
)
JUDGED = Counter("gatekeeper_auditor_rejudged_total", "Workloads re-judged in the background", ["trigger"])


def event(workload: dict[str, Any], compliant: bool, message: str, when: datetime) -> dict[str, Any]:
    """A core/v1 Event on the workload: Normal when it became compliant, Warning when not."""
    meta = workload["metadata"]
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = "Compliant" if compliant else "NonCompliant"
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": meta["name"],
                           "namespace": meta["namespace"], "uid": meta["uid"]},
        "reason": reason, "type": "Normal" if compliant else "Warning",
        "message": message[:1024],
        "source": {"component": "model-gatekeeper-auditor"},
        "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
    }
