"""Typed values that flow through the pipeline: model references, decisions, reports.

The decision shape is README "The decision"; OPA produces it, the gate adds `policy_revision` and a
`decision_id`, and every front door (webhook, CLI, reports, audit) reads these models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# Least to most severe. The policy's order (`lib.risk_classes`, served in
# `data.gatekeeper.facts`) is the authority; tests/test_opa_facts.py holds the two equal.
# Python needs it only where a source merges layers before OPA is asked (MLflow tags).
RiskClass = Literal["minimal", "limited", "high", "prohibited"]
RISK_CLASSES: tuple[str, ...] = get_args(RiskClass)
Enforcement = Literal["deny", "warn", "dryrun"]


class ObjectRef(BaseModel):
    """Which Kubernetes object a decision is about."""

    model_config = ConfigDict(populate_by_name=True)

    api_version: str = Field("", alias="apiVersion")
    kind: str = ""
    namespace: str | None = None
    name: str = ""

    def display(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{ns}{self.name}"


class ModelRef(BaseModel):
    """A model a workload serves, as named by its `model-gatekeeper.io/model` annotation."""

    ref: str
    name: str
    version: str | None = None
    alias: str | None = None
    declared_risk_class: str | None = None
    storage_uri: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version or self.alias}"


class Reference(BaseModel):
    """What a requirement serves: one reference of a text in the regulation map
    (policies/gatekeeper/regulations/), as the policy attaches it to a violation."""

    text: str  # the map's key of the text, e.g. eu_ai_act
    id: str  # as the text numbers it, e.g. "Art. 10"
    label: str  # as a person cites it, e.g. "EU AI Act Art. 10"
    title: str = ""
    version: str = ""  # the text's version, e.g. "Regulation (EU) 2024/1689"


class Violation(BaseModel):
    requirement: str
    model: str = ""
    version: str = ""
    message: str
    observed: Any = None
    threshold: Any = None
    remediation: str = ""
    # The one-line form Kubernetes users see (README "The decision"), as the policy formatted it:
    # decision.rego's `line` is the one place that format is written.
    line: str = ""
    # What the requirement serves (the regulation map), and the short form of the cited
    # texts' references the denial message ends with (`EU AI Act Art. 10`; "" for none).
    references: list[Reference] = []
    citation: str = ""

    def labels(self) -> str:
        """The references as one line: `EU AI Act Art. 10; NIST AI RMF MEASURE 2.11`."""
        return "; ".join(reference.label for reference in self.references)


class WaivedViolation(Violation):
    waiver: str = ""
    waiver_expires_at: str | None = None
    waiver_reason: str | None = None


class DecidedModel(BaseModel):
    ref: str
    name: str
    version: str | None = None
    risk_class: str | None = None


class Expiry(BaseModel):
    """A sign-off, waiver or age-limited evidence result the decision rests on, and when it
    runs out or goes stale (the policy's `expiry.statements`): the background auditor
    re-judges at `expires_at` and exports the time left as a gauge."""

    kind: Literal["signoff", "waiver", "evidence"]
    model: str
    version: str
    name: str  # the role signed off, the requirement waived, or the evidence section (fairness.<attribute>)
    requirement: str  # what fails once it expires
    source: str = ""
    expires_at: str


class Checked(BaseModel):
    """The requirement families one model was checked against (a background report shows
    each that raised nothing as passed)."""

    model: str
    version: str
    families: list[str] = []


class SourceLocation(BaseModel):
    """Where a manifest object came from (CLI input): file and 1-based line of its document."""

    file: str
    line: int = 1


class Decision(BaseModel):
    """The decision for one object (README "The decision")."""

    model_config = ConfigDict(populate_by_name=True)

    object: ObjectRef
    environment: str
    allowed: bool
    enforcement: Enforcement
    operation: str | None = None
    models: list[DecidedModel] = []
    violations: list[Violation] = []
    waived: list[WaivedViolation] = []
    warnings: list[str] = []
    expiries: list[Expiry] = []
    checks: list[Checked] = []
    policy_revision: str = ""
    decision_id: str = ""
    evidence_digest: str = ""
    # Set when a component (OPA, an evidence source) failed: the decision is then the
    # gate's fail-closed answer, not OPA's.
    error: str | None = None
    source: SourceLocation | None = None


class Skipped(BaseModel):
    """An input object that serves no model, so nothing was asked of OPA."""

    object: ObjectRef
    reason: str
    source: SourceLocation | None = None


class Report(BaseModel):
    """Several objects' decisions (README "The decision"): allowed when every decision is."""

    allowed: bool
    results: list[Decision]
    skipped: list[Skipped] = []

    @classmethod
    def merge(cls, reports: Iterable[Report]) -> Report:
        """One report from several (chunks of one run, in order)."""
        merged = cls(allowed=True, results=[], skipped=[])
        for report in reports:
            merged.results.extend(report.results)
            merged.skipped.extend(report.skipped)
        merged.allowed = all(d.allowed for d in merged.results)
        return merged
