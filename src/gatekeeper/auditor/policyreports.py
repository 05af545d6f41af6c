"""A decision as a wgpolicyk8s.io/v1alpha2 PolicyReport, one per workload.

One report per workload, not per namespace: namespace-wide reports grew past etcd's
object size limit in Kyverno. Policy Reporter reads these as they are. Each result is
one requirement: an open violation fails, a waived one or an expiry warning warns, and
each requirement family the model was checked against that raised nothing passes. A failing
or waived result names what its requirement serves (the regulation map) in
`properties.references`, e.g. "EU AI Act Art. 10; NIST AI RMF MEASURE 2.11".
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from gatekeeper.auditor.client import MANAGED_BY, REPORT_GROUP, REPORT_VERSION
from gatekeeper.types.decision import Decision
from gatekeeper.types.names import model_label

SOURCE = "model-gatekeeper"
ERROR_POLICY = "gatekeeper.evaluation"  # the result that says the last re-judgement failed
_LINE_ID = re.compile(r"^\[([^\]]+)\]")


def report_name(kind: str, name: str) -> str:
    # kinds of different groups may share a name (Model, InferenceService): the kind is
    # in the name, the group in the owner reference
    return f"gatekeeper-{kind.lower()}-{name}"[:253]


def owner_reference(workload: dict[str, Any]) -> dict[str, Any]:
    """The report belongs to its workload, so Kubernetes deletes it with the workload."""
    meta = workload["metadata"]
    return {"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": False, "blockOwnerDeletion": False}


def _result(policy: str, result: str, message: str, when: datetime, properties: dict[str, str]) -> dict[str, Any]:
    seconds = int(when.timestamp())
    return {"source": SOURCE, "policy": policy, "result": result, "message": message,
            "scored": True, "timestamp": {"seconds": seconds, "nanos": 0},
            "properties": {k: v for k, v in properties.items() if v}}


def results_of(decision: Decision, when: datetime) -> list[dict[str, Any]]:
    results = []
    failed_families: set[tuple[str, str, str]] = set()
    for v in decision.violations:
        failed_families.add((v.model, v.version, v.requirement.split(".")[0]))
        results.append(_result(v.requirement, "fail", v.line or v.message, when,
                               {"model": model_label(v.model, v.version), "remediation": v.remediation,
                                "references": v.labels()}))
    for w in decision.waived:
        failed_families.add((w.model, w.version, w.requirement.split(".")[0]))
        message = f"waived by {w.waiver} until {w.waiver_expires_at}: {w.message}"
        results.append(_result(w.requirement, "warn", message, when,
                               {"model": model_label(w.model, w.version), "remediation": w.remediation,
                                "references": w.labels()}))
    for line in decision.warnings:
        match = _LINE_ID.match(line)
        if match and "expires in" in line:  # expiry warnings; violation lines are results already
            results.append(_result(match.group(1), "warn", line, when, {}))
    for checked in decision.checks:
        label = model_label(checked.model, checked.version)
        for family in checked.families:
            # families are requirement ID prefixes (the policy's decision.checks)
            if (checked.model, checked.version, family) not in failed_families:
                results.append(_result(family, "pass", f"{label} meets {family}", when, {"model": label}))
    return results


def summary_of(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0}
    for r in results:
        counts[r["result"]] += 1
    return counts


# What `gatekeeper inventory` reads back from a report (annotations: any text fits).
MODELS = "model-gatekeeper.io/models"  # "name@version risk_class", comma-separated
EARLIEST_EXPIRY = "model-gatekeeper.io/earliest-expiry"
COMPLIANT = "model-gatekeeper.io/compliant"  # "true" | "false" | "unknown" (never judged)
# and what a restarted auditor reads back (memory.py), so it does not log the same decision twice
ALLOWED = "model-gatekeeper.io/allowed"  # "true" | "false": admitted under the environment's enforcement


def models_of(annotations: dict[str, str]) -> list[tuple[str, str]]:
    """(model@version, risk class) of each model the MODELS annotation lists."""
    entries = (part.strip() for part in annotations.get(MODELS, "").split(","))
    return [(label, risk or "unclassified") for label, _, risk in (e.partition(" ") for e in entries if e)]


def failed(results: list[dict[str, Any]]) -> list[str]:
    """The requirement IDs of a report's failing results."""
    return [r["policy"] for r in results if r.get("result") == "fail"]


def policy_report(workload: dict[str, Any], results: list[dict[str, Any]], decision: Decision | None,
                  previous: dict[str, str] | None = None) -> dict[str, Any]:
    """The report; `previous` (the last annotations) is kept when there is no decision,
    so a failed re-judgement does not change what the inventory says."""
    meta = workload["metadata"]
    labels = dict(MANAGED_BY)
    annotations = dict(previous or {COMPLIANT: "unknown"})
    if decision is not None:
        labels["model-gatekeeper.io/environment"] = decision.environment
        annotations = {
            MODELS: ", ".join(f"{model_label(m.name, m.version)} {m.risk_class or 'unclassified'}" for m in decision.models),
            COMPLIANT: "false" if decision.violations else "true",
            EARLIEST_EXPIRY: min((e.expires_at for e in decision.expiries), default=""),
            ALLOWED: "true" if decision.allowed else "false",
        }
    return {
        "apiVersion": f"{REPORT_GROUP}/{REPORT_VERSION}",
        "kind": "PolicyReport",
        "metadata": {"name": report_name(workload["kind"], meta["name"]), "namespace": meta["namespace"],
                     "labels": labels, "annotations": annotations,
                     "ownerReferences": [owner_reference(workload)]},
        "scope": {"apiVersion": workload["apiVersion"], "kind": workload["kind"], "name": meta["name"],
                  "namespace": meta["namespace"], "uid": meta["uid"]},
        "summary": summary_of(results),
        "results": results,
    }


def fingerprint(report: dict[str, Any]) -> str:
    """What a report says, without when it was said: the fields the auditor writes, result
    timestamps left out. Equal fingerprints: rewriting the report would change nothing
    but its timestamps, so a resync of unchanged workloads writes nothing."""
    meta = report.get("metadata") or {}
    said = {
        "metadata": {k: meta.get(k) for k in ("name", "namespace", "labels", "annotations", "ownerReferences")},
        "scope": report.get("scope"), "summary": report.get("summary"),
        "results": [{k: v for k, v in r.items() if k != "timestamp"} for r in report.get("results") or []],
    }
    return hashlib.sha256(json.dumps(said, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def with_error(previous: list[dict[str, Any]], failure: str, when: datetime) -> list[dict[str, Any]]:
    """The last results kept as they were (nothing flips to pass on a failure), plus an
    error result saying why this re-judgement could not be made."""
    kept = [r for r in previous if r.get("policy") != ERROR_POLICY]
    return [*kept, _result(ERROR_POLICY, "error", f"could not re-judge: {failure}", when, {})]
