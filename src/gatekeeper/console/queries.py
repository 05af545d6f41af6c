"""What the console's pages show, read from the sources `serve` reads: the decision log,
the inventory (the auditor's PolicyReports), the evidence and the policy on OPA.

Every read is bounded: decisions a page at a time through the log's indexed queries, the
inventory from one list of reports (cached for a few seconds), a model version judged by
OPA as an admission would judge it (never recorded: the console decides nothing).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from gatekeeper.audit.chain import record_of
from gatekeeper.audit import AuditRecord, AuditStore, AuditStoreError
from gatekeeper.console.params import DecisionQuery, WorkloadQuery
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext
from gatekeeper.types.decision import Decision, ModelRef

# namespace (None: all) -> the inventory rows of `gatekeeper inventory --format json`
InventoryReader = Callable[[str | None], Awaitable[list[dict[str, Any]]]]
Clock = Callable[[], datetime]

EXPIRY_WINDOW = timedelta(days=30)
INVENTORY_TTL_S = 5.0
JUDGEMENT_TTL_S = 30.0
# Models "seen in decisions": those of the newest records only, so the page never reads the whole log.
RECENT_DECISIONS = 1000
# Records a page searches when its filters have no index (namespace, user, source, model);
# at about 10 µs a record, a filter matching nothing costs ~0.1 s a page, not the whole log's scan.
SEARCH_WINDOW = 10_000
# The model version page's timeline: its decisions among this many newest records.
TIMELINE_WINDOW = 20_000
# The environment a version that runs nowhere is judged in: the strictest, as the gate does.
STRICTEST = "production"


class InventoryUnavailable(Exception):
    """The cluster could not be read (the page says so; nothing else fails)."""


@dataclass
class Sources:
    gate: Gate  # its OPA and evidence lookup; built without an audit store, so nothing is recorded
    store: AuditStore | None  # None: no decision log yet
    inventory: InventoryReader | None  # None: no cluster configured
    clock: Clock
    monotonic: Callable[[], float] = time.monotonic
    _rows: tuple[float, list[dict[str, Any]]] | None = None
    _judged: dict[tuple[str, str, str], tuple[float, Decision]] = field(default_factory=dict)
    _background: AuditRecord | None = None
    _scanned: int = 0  # the log's records up to this seq were searched for the newest background one

    async def last_background(self) -> AuditRecord | None:
        """The newest re-judgement by the background auditor. The source is in each record's
        body, not an indexed column, so each record is searched once: the first call reads the
        whole log (the app makes it at startup), later ones only what was appended since."""
        if self.store is None:
            return None
        newest = await self.store.list(limit=1)
        if newest and newest[0].seq > self._scanned:
            found = await self.store.list(source="background", limit=1, after=self._scanned)
            self._background = found[0] if found else self._background
            self._scanned = newest[0].seq
        return self._background

    async def workloads(self) -> list[dict[str, Any]]:
        """Every inventory row (InventoryUnavailable when the cluster cannot be read; [] with no cluster)."""
        if self.inventory is None:
            return []
        if self._rows is not None and self._rows[0] > self.monotonic():
            return self._rows[1]
        rows = await self.inventory(None)
        self._rows = (self.monotonic() + INVENTORY_TTL_S, rows)
        return rows

    async def judge(self, name: str, version: str, environment: str = STRICTEST) -> Decision:
        """How the policy judges this version now in `environment`: the decision an admission
        of a workload serving it from its evidenced artifact would get (not recorded)."""
        return (await self.judge_many([(name, version)], environment))[(name, version)]

    async def judge_many(self, versions: list[tuple[str, str]], environment: str = STRICTEST) -> dict[tuple[str, str], Decision]:
        """`judge` for several versions, the ones not judged lately in one batch to OPA."""
        now = self.monotonic()
        due = [nv for nv in versions if (hit := self._judged.get((*nv, environment))) is None or hit[0] <= now]
        if due:
            found = [await self.gate.lookup.find(ModelRef(ref=f"models:/{n}/{v}", name=n, version=v)) for n, v in due]
            manifests = [Manifest(probe(n, v, ((f.facts or {}).get("evidence") or {}).get("artifact", {}).get("uri"), i))
                         for i, ((n, v), f) in enumerate(zip(due, found))]
            evaluation = await self.gate.evaluate(manifests, environment, ReviewContext(source="api"))
            for decision in evaluation.report.results:  # matched by the probe's name, whatever the order
                nv = due[int(decision.object.name.rsplit("-", 1)[1])]
                self._judged[(*nv, environment)] = (now + JUDGEMENT_TTL_S, decision)
        return {nv: self._judged[(*nv, environment)][1] for nv in versions if (*nv, environment) in self._judged}


def probe(name: str, version: str, storage_uri: str | None, index: int = 0) -> dict[str, Any]:
    """A KServe InferenceService serving the version from the artifact its evidence names."""
    model: dict[str, Any] = {"modelFormat": {"name": "unknown"}}
    if storage_uri:
        model["storageUri"] = storage_uri
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": f"console-probe-{index}", "namespace": "console",
                         "annotations": {"model-gatekeeper.io/model": f"models:/{name}/{version}"}},
            "spec": {"predictor": {"model": model}}}


def version_key(version: str) -> tuple[int, int | str]:
    """'9' before '10'; names after numbers."""
    return (0, int(version)) if version.isdigit() else (1, version)


def split_label(label: str) -> tuple[str, str]:
    name, _, version = label.partition("@")
    return name, version


# --- the overview ----------------------------------------------------------------------------

@dataclass
class Overview:
    by_environment: dict[str, Counter[str]]  # environment -> compliant value -> workloads
    total: int
    inventory_problem: str | None
    expiring: list[dict[str, Any]]  # {model, version, kind, name, expires_at}
    denials: list[AuditRecord]
    last_background: AuditRecord | None
    decisions_logged: bool


async def overview(src: Sources) -> Overview:
    rows, problem = await _rows_or_problem(src)
    by_environment: dict[str, Counter[str]] = {}
    for row in rows:
        by_environment.setdefault(row["environment"] or "(none)", Counter())[row["compliant"]] += 1
    now = src.clock()
    expiring = []
    for (name, version), decision in (await src.judge_many(await known_versions(src, rows))).items():
        for expiry in decision.expiries:
            if expiry.kind in ("signoff", "waiver") and now <= parse_time(expiry.expires_at) <= now + EXPIRY_WINDOW:
                expiring.append({**expiry.model_dump(), "model": name, "version": version})
    expiring.sort(key=lambda e: e["expires_at"])
    denials = await src.store.list(outcome="denied", limit=10) if src.store else []
    background = await src.last_background()
    logged = bool(denials) or bool(await src.store.list(limit=1)) if src.store else False
    return Overview(dict(sorted(by_environment.items())), len(rows), problem, expiring, denials, background, logged)


async def _rows_or_problem(src: Sources) -> tuple[list[dict[str, Any]], str | None]:
    try:
        return await src.workloads(), None
    except InventoryUnavailable as exc:
        return [], str(exc)


async def known_versions(src: Sources, rows: list[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """Every version the evidence source holds, runs in the cluster, or is named by a recent decision."""
    seen = set(await src.gate.lookup.source.versions() or [])
    if rows is None:
        rows, _ = await _rows_or_problem(src)
    seen |= {split_label(label) for row in rows for label in row["models"]}
    if src.store is not None:
        seen |= {split_label(label) for label in await src.store.recent_models(RECENT_DECISIONS)}
    return sorted(seen, key=lambda nv: (nv[0], version_key(nv[1])))


# --- models ----------------------------------------------------------------------------------

@dataclass
class VersionLine:
    name: str
    version: str
    risk_class: str
    running: list[dict[str, Any]]  # inventory rows serving it
    admissible: bool  # judged in production now


async def models(src: Sources) -> tuple[list[VersionLine], str | None]:
    rows, problem = await _rows_or_problem(src)
    lines = []
    for (name, version), decision in (await src.judge_many(await known_versions(src, rows))).items():
        risk = next((m.risk_class for m in decision.models if m.risk_class), None) or "unclassified"
        running = [row for row in rows if f"{name}@{version}" in row["models"]]
        lines.append(VersionLine(name, version, risk, running, decision.allowed and not decision.violations))
    return lines, problem


# --- one model version -----------------------------------------------------------------------

@dataclass
class VersionPage:
    name: str
    version: str
    evidence: dict[str, Any] | None  # the bundle as the policy reads it; None when there is none
    evidence_problem: str | None
    signoffs: list[dict[str, Any]]
    waivers: list[dict[str, Any]]
    decision: Decision  # how the policy judges it now (in production, or where it runs)
    thresholds: dict[str, Any]  # the fairness thresholds of its class in that environment
    running: list[dict[str, Any]]
    timeline: list[AuditRecord]
    inventory_problem: str | None


async def version_page(src: Sources, name: str, version: str, timeline_limit: int = 200) -> VersionPage:
    rows, problem = await _rows_or_problem(src)
    running = [row for row in rows if f"{name}@{version}" in row["models"]]
    environment = _strictest([row["environment"] for row in running], src.gate.facts.environments)
    found = await src.gate.lookup.find(ModelRef(ref=f"models:/{name}/{version}", name=name, version=version))
    facts = found.facts or {}
    decision = await src.judge(name, version, environment)
    risk = next((m.risk_class for m in decision.models if m.risk_class), None)
    thresholds = await requirements_of(src, risk, environment) if risk else {}
    timeline = []
    if src.store is not None and (newest := await src.store.list(limit=1)):
        timeline = await src.store.list(model=f"{name}@{version}", limit=timeline_limit,
                                        after=max(newest[0].seq - TIMELINE_WINDOW, 0))
    return VersionPage(
        name, version, facts.get("evidence"), (found.error or {}).get("message") if found.facts is None else None,
        [_statement(s) for s in facts.get("signoffs", [])], [_statement(s) for s in facts.get("waivers", [])],
        decision, (thresholds or {}).get("fairness") or {}, running, timeline, problem)


# threshold setting -> (metric in the evidence, how it is compared), as the matrix names them
FAIRNESS_THRESHOLDS = {"demographic_parity_ratio_min": ("demographic_parity_ratio", ">="),
                       "demographic_parity_difference_max": ("demographic_parity_difference", "<="),
                       "equalized_odds_difference_max": ("equalized_odds_difference", "<="),
                       "min_group_size": ("min_group_size", ">=")}


def fairness_rows(page: VersionPage) -> list[dict[str, Any]]:
    """Per attribute and metric: observed, the class's threshold, and whether the decision
    failed it (OPA judged it; the page only finds the violation that names them)."""
    results = (page.evidence or {}).get("fairness") or {}
    rows = []
    for attribute, measured in sorted(results.items()):
        for setting, (metric, comparison) in FAIRNESS_THRESHOLDS.items():
            if metric not in measured and setting not in page.thresholds:
                continue
            failed = any(v.requirement == f"fairness.{metric}" and attribute in v.message for v in page.decision.violations)
            rows.append({"attribute": attribute, "metric": metric, "observed": measured.get(metric),
                         "threshold": f"{comparison} {page.thresholds[setting]}" if setting in page.thresholds else "",
                         "failed": failed})
    return rows


def _strictest(environments: list[str], enforcement: dict[str, str]) -> str:
    """Of the environments a version runs in, the most enforced (production when it runs nowhere)."""
    order = {"deny": 0, "warn": 1, "dryrun": 2}
    known = [e for e in environments if e in enforcement]
    return min(known, key=lambda e: (order.get(enforcement[e], 0), e)) if known else STRICTEST


def _statement(facts: dict[str, Any]) -> dict[str, Any]:
    predicate = facts.get("predicate") or {}
    return {"source": facts.get("source", ""), "valid": facts.get("signature_valid", False),
            "error": facts.get("error"), "signer": predicate.get("signer", ""), "role": predicate.get("role", ""),
            "requirement": predicate.get("requirement", ""), "reason": predicate.get("reason", ""),
            "signed_at": predicate.get("signed_at", ""), "expires_at": predicate.get("expires_at", "")}


# --- workloads and decisions ------------------------------------------------------------------

async def workloads(src: Sources, query: WorkloadQuery) -> tuple[list[dict[str, Any]], str | None]:
    rows, problem = await _rows_or_problem(src)
    model = query.model

    def wanted(row: dict[str, Any]) -> bool:
        return ((query.namespace is None or row["namespace"] == query.namespace)
                and (query.environment is None or row["environment"] == query.environment)
                and (query.compliant is None or row["compliant"] == query.compliant)
                and (model is None or any(label == model or split_label(label)[0] == model for label in row["models"])))

    return [row for row in rows if wanted(row)], problem


@dataclass
class DecisionList:
    records: list[AuditRecord]
    older: int | None  # the `before` cursor of the next page; None: nothing older matches the time range
    searched: tuple[int, int] | None  # the records (seq, first to last) this page searched, when windowed


async def decisions(src: Sources, query: DecisionQuery) -> DecisionList:
    """One page, newest first, through the log's own query (`before` is the cursor). Filters
    on what only a record's body holds (namespace, user, source) or its model list have no
    index: such a page searches SEARCH_WINDOW records at most, and links to the next ones,
    so a filter that matches nothing costs one window, not the whole log."""
    if src.store is None:
        return DecisionList([], None, None)
    windowed = any((query.namespace, query.user, query.source, query.model))
    top = query.before
    if top is None and windowed:
        newest = await src.store.list(until=query.until, limit=1)
        if not newest:
            return DecisionList([], None, None)
        top = newest[0].seq + 1
    after = max(top - 1 - SEARCH_WINDOW, 0) if windowed and top is not None else None
    records = await src.store.list(model=query.model, outcome=query.outcome, since=query.since, until=query.until,
                                   limit=query.limit, source=query.source, namespace=query.namespace, user=query.user,
                                   before=top, after=after)
    if len(records) == query.limit:
        older: int | None = records[-1].seq
    elif after:  # the window ended before the page filled: go on below it if anything older is in range
        below = await src.store.list(since=query.since, until=query.until, before=after + 1, limit=1)
        older = after + 1 if below else None
    else:
        older = None
    searched = (after + 1, top - 1) if after is not None and top is not None else None
    return DecisionList(records, older, searched)


@dataclass
class DecisionPage:
    record: AuditRecord
    proof: dict[str, Any] | None  # the inclusion proof (`gatekeeper audit prove`), when a checkpoint covers it
    proof_problem: str | None


async def decision(src: Sources, decision_id: str) -> DecisionPage | None:
    if src.store is None:
        return None
    row = await src.store.find(decision_id)
    if row is None:
        return None
    try:
        proof, problem = await src.store.prove(decision_id), None
    except AuditStoreError as exc:
        proof, problem = None, exc.reason
    return DecisionPage(record_of(row), proof, problem)


# --- the policy ------------------------------------------------------------------------------

async def requirement_table(src: Sources) -> dict[str, Any]:
    """data.gatekeeper.console.requirement_table: environment -> {enforcement, classes: {class: requirements}}."""
    return await src.gate.engine.data("gatekeeper/console/requirement_table") or {}


async def requirements_of(src: Sources, risk_class: str, environment: str) -> dict[str, Any]:
    table = await requirement_table(src)
    return ((table.get(environment) or {}).get("classes") or {}).get(risk_class) or {}


async def remediation(src: Sources) -> dict[str, str]:
    return await src.gate.engine.data("gatekeeper/matrix/remediation") or {}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$")
