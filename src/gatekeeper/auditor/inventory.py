"""What runs where: one row per workload, read from the auditor's PolicyReports.

The reports are the auditor's published state (what it last judged, and whether the last
re-judgement failed), so the inventory needs no OPA and no evidence of its own, and says
the same as the reports Policy Reporter shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from gatekeeper.auditor import policyreports

if TYPE_CHECKING:
    from gatekeeper.auditor.client import Cluster


class Row(BaseModel):
    namespace: str
    kind: str
    name: str
    environment: str
    models: list[str]  # model@version
    risk_class: str  # the highest of its models' (as the report lists them)
    compliant: str  # true | false | unknown (never judged successfully)
    violations: list[str]  # the open violations' requirement IDs
    earliest_expiry: str  # of the sign-offs, waivers and age-limited evidence it rests on ("" for none)
    error: str  # why the last re-judgement failed ("" when it did not)


_ORDER = ["unclassified", "minimal", "limited", "high", "prohibited"]


def row_of(report: dict[str, Any]) -> Row:
    meta = report.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    scope = report.get("scope") or {}
    served = policyreports.models_of(annotations)
    models, classes = [label for label, _ in served], [risk for _, risk in served]
    results = report.get("results") or []
    return Row(
        namespace=meta.get("namespace", ""), kind=scope.get("kind", ""), name=scope.get("name", ""),
        environment=(meta.get("labels") or {}).get("model-gatekeeper.io/environment", ""),
        models=models,
        risk_class=max(classes, key=lambda c: _ORDER.index(c) if c in _ORDER else 0, default=""),
        compliant=annotations.get(policyreports.COMPLIANT, "unknown"),
        violations=sorted(set(policyreports.failed(results))),
        earliest_expiry=annotations.get(policyreports.EARLIEST_EXPIRY, ""),
        error="; ".join(r.get("message", "") for r in results if r.get("result") == "error"),
    )


def inventory(reports: list[dict[str, Any]]) -> list[Row]:
    return sorted((row_of(r) for r in reports), key=lambda row: (row.namespace, row.kind, row.name))


async def read(cluster: Cluster, namespace: str | None = None) -> list[Row]:
    """The inventory as the reports say it now, of one namespace or all (ClusterError
    when the Kubernetes API cannot be read)."""
    reports, _ = await cluster.list_all(cluster.own_reports())
    rows = inventory(reports)
    return [row for row in rows if namespace is None or row.namespace == namespace]


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    """The rows as both doors give them, `gatekeeper inventory --format json` and
    `GET /v1/inventory`: one model, one rendering, so the two cannot disagree."""
    return [row.model_dump(mode="json") for row in rows]
