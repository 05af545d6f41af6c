"""What the auditor remembers about each workload, and how it remembers it across a
restart: from the PolicyReports it wrote.

A restarted auditor (or a replica that has just become the leader) would otherwise take
every workload for new: a second background record in the decision log, perhaps a second
Event, and a rewrite of every report. Its reports say what it last concluded (the
annotations: compliant, allowed, models with their risk class; the fail results: the
open violations), so the state is seeded from them and the first re-judgement is
compared with that. What a report cannot say (the workload's resourceVersion, the policy
revision, the evidence digests) is unknown, so each seeded workload is re-judged once
(trigger `restart`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatekeeper.auditor import policyreports
from gatekeeper.types.decision import ModelRef


@dataclass
class Judged:
    """What the auditor last concluded about one workload."""

    resource_version: str
    policy_revision: str
    judged_at: datetime
    compliant: bool | None = None  # None: never judged successfully
    outcome: tuple[Any, ...] | None = None  # what the decision log last recorded
    next_expiry: datetime | None = None
    models: tuple[ModelRef, ...] = ()  # what it serves
    models_of: tuple[str, str] = ("", "")  # (resource_version, policy_revision) `models` was read at
    evidence: tuple[str, ...] = ()  # the evidence revision judged (digest per served model)
    failed: bool = False
    seeded: bool = False  # known only from its report: re-judge once
    results: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)  # of the last report written from a decision
    written: str = ""  # the last report written (its fingerprint: unchanged reports are not rewritten)
    report_version: str = ""  # that report's resourceVersion, to replace it without reading it first
    gauges: list[tuple[Any, tuple[str, ...]]] = field(default_factory=list)  # (gauge, labels) to remove
    # the last known class per model@version: evidence that cannot be read has no class,
    # and the compliant series should not change labels (and lose its history) for that
    risk_classes: dict[tuple[str, str], str] = field(default_factory=dict)

    def after(self, previous: Judged | None) -> Judged:
        """This judgement, carrying over what was concluded before until it concludes anew."""
        if previous:
            self.compliant, self.outcome, self.results = previous.compliant, previous.outcome, previous.results
            self.annotations, self.written, self.report_version = (previous.annotations, previous.written,
                                                                   previous.report_version)
            self.gauges, self.risk_classes = previous.gauges, previous.risk_classes
            self.models, self.models_of = previous.models, previous.models_of
        return self


def outcome(allowed: bool, compliant: bool, violations: list[str]) -> tuple[Any, ...]:
    """What the decision log records a change of."""
    return allowed, compliant, tuple(sorted(set(violations)))


def seeded(report: dict[str, Any], now: datetime) -> tuple[str, Judged] | None:
    """The workload's uid and what its report says was last concluded (None: not a report
    this auditor can read back)."""
    uid = (report.get("scope") or {}).get("uid")
    if not uid:
        return None
    meta = report.get("metadata") or {}
    annotations = dict(meta.get("annotations") or {})
    results = list(report.get("results") or [])
    compliant = {"true": True, "false": False}.get(annotations.get(policyreports.COMPLIANT, ""))
    allowed = {"true": True, "false": False}.get(annotations.get(policyreports.ALLOWED, ""))
    state = Judged(resource_version="", policy_revision="", judged_at=now, compliant=compliant, seeded=True,
                   results=[r for r in results if r.get("policy") != policyreports.ERROR_POLICY],
                   annotations=annotations, written=policyreports.fingerprint(report),
                   report_version=str(meta.get("resourceVersion") or ""))
    if compliant is not None and allowed is not None:  # reports written before `allowed` was: record once more
        state.outcome = outcome(allowed, compliant, policyreports.failed(results))
    for label, risk in policyreports.models_of(annotations):
        name, _, version = label.rpartition("@")
        if risk != "unclassified":
            state.risk_classes[(name, version)] = risk
    return uid, state
