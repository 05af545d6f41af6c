"""What each console page shows, read through `sources.Sources`: the decision log, the
inventory (the auditor's PolicyReports), the evidence and the policy on OPA.

Every read is bounded: decisions a page (or a search window) at a time through the log's
own queries, the inventory from one list of reports, versions judged in one OPA batch.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStoreError
from gatekeeper.audit.chain import record_of
from gatekeeper.console.params import DecisionQuery, WorkloadQuery
from gatekeeper.console.snapshot import Inventory, split_label
from gatekeeper.console.sources import STRICTEST, InventoryUnavailable, Sources
from gatekeeper.types.decision import Decision

EXPIRY_WINDOW = timedelta(days=30)
# Models "seen in decisions": those of the newest records only, so the page never reads the whole log.
RECENT_DECISIONS = 1000
# Records a page searches when its filters have no index (namespace, user, source, model);
# at about 10 µs a record, a filter matching nothing costs ~0.1 s a page, not the whole log's scan.
SEARCH_WINDOW = 10_000
# The model version page's timeline: its decisions among this many newest records.
TIMELINE_WINDOW = 20_000


def version_key(version: str) -> tuple[int, int | str]:
    """'9' before '10'; names after numbers."""
    return (0, int(version)) if version.isdigit() else (1, version)


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
    inventory, problem = await _rows_or_problem(src)
    now = src.clock()
    expiring = []
    for (name, version), decision in (await src.judge_many(await known_versions(src, inventory))).items():
        for expiry in decision.expiries:
            if expiry.kind in ("signoff", "waiver") and now <= parse_time(expiry.expires_at) <= now + EXPIRY_WINDOW:
                expiring.append({**expiry.model_dump(), "model": name, "version": version})
    expiring.sort(key=lambda e: e["expires_at"])
    denials = await src.store.list(outcome="denied", limit=10) if src.store else []
    background = await src.last_background()
    logged = bool(denials) or bool(await src.store.list(limit=1)) if src.store else False
    return Overview(inventory.by_environment, len(inventory.rows), problem, expiring, denials, background, logged)


async def _rows_or_problem(src: Sources) -> tuple[Inventory, str | None]:
    try:
        return await src.snapshot(), None
    except InventoryUnavailable as exc:
        return Inventory.of([]), str(exc)


async def known_versions(src: Sources, inventory: Inventory | None = None) -> list[tuple[str, str]]:
    """Every version the evidence source holds, runs in the cluster, or is named by a recent decision."""
    seen = set(await src.gate.lookup.source.versions() or [])
    if inventory is None:
        inventory, _ = await _rows_or_problem(src)
    seen |= inventory.labels()
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
    inventory, problem = await _rows_or_problem(src)
    lines = []
    for (name, version), decision in (await src.judge_many(await known_versions(src, inventory))).items():
        risk = next((m.risk_class for m in decision.models if m.risk_class), None) or "unclassified"
        lines.append(VersionLine(name, version, risk, inventory.running(name, version), decision.allowed and not decision.violations))
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
    inventory, problem = await _rows_or_problem(src)
    running = inventory.running(name, version)
    environment = _strictest([row["environment"] for row in running], src.gate.facts.environments)
    judged = (await src.judged([(name, version)], environment))[(name, version)]
    found, decision = judged.found, judged.decision
    facts = found.facts or {}
    risk = next((m.risk_class for m in decision.models if m.risk_class), None)
    thresholds = await requirements_of(src, risk, environment) if risk else {}
    timeline = []
    if src.store is not None and (newest := await src.store.list(limit=1)):
        timeline = await src.store.list(model=f"{name}@{version}", limit=timeline_limit,
                                        after=max(newest[0].seq - TIMELINE_WINDOW, 0))
    return VersionPage(
        name, version, facts.get("evidence"), (found.error or {}).get("message") if found.facts is None else None,
        [_statement(s, src.gate.facts.signers) for s in facts.get("signoffs", [])],
        [_statement(s, src.gate.facts.signers) for s in facts.get("waivers", [])],
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


def _statement(facts: dict[str, Any], trusted: dict[str, Any]) -> dict[str, Any]:
    """A sign-off or waiver as the page lists it: who signed it (the trusted signer whose key
    verified it, else the name it claims), in which role (a sign-off names its role; a
    waiver's approver holds the signer's roles), what it covers, when it runs out."""
    predicate = facts.get("predicate") or {}
    holder = next((signer for signer in trusted.get("signers") or []
                   if facts.get("keyid") and any(key.get("keyid") == facts["keyid"] for key in signer.get("keys") or [])),
                  {})
    return {"source": facts.get("source", ""), "valid": facts.get("signature_valid", False),
            "error": facts.get("error"),
            "signer": holder.get("name") or predicate.get("signer") or predicate.get("approver") or "",
            "role": predicate.get("role") or ", ".join(holder.get("roles") or []),
            "requirement": predicate.get("requirement", ""), "reason": predicate.get("reason", ""),
            "signed_at": predicate.get("signed_at", ""), "expires_at": predicate.get("expires_at", "")}


# --- workloads and decisions ------------------------------------------------------------------

async def workloads(src: Sources, query: WorkloadQuery) -> tuple[list[dict[str, Any]], str | None]:
    inventory, problem = await _rows_or_problem(src)
    model = query.model
    # the fewest rows an index gives, then every filter on them (row order kept)
    candidates = [inventory.rows]
    if model is not None:
        candidates.append(inventory.serving(model))
    if query.namespace is not None:
        candidates.append(inventory.by_namespace.get(query.namespace, []))

    def wanted(row: dict[str, Any]) -> bool:
        return ((query.namespace is None or row["namespace"] == query.namespace)
                and (query.environment is None or row["environment"] == query.environment)
                and (query.compliant is None or row["compliant"] == query.compliant)
                and (model is None or any(label == model or split_label(label)[0] == model for label in row["models"])))

    return [row for row in min(candidates, key=len) if wanted(row)], problem


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

async def requirement_table(src: Sources) -> dict[str, Any] | None:
    """data.gatekeeper.console.requirement_table: environment -> {enforcement, classes: {class: requirements}};
    None when the loaded policies do not define it (a policy folder older than the console)."""
    return await src.gate.engine.data("gatekeeper/console/requirement_table")


async def requirements_of(src: Sources, risk_class: str, environment: str) -> dict[str, Any]:
    table = await requirement_table(src) or {}
    return ((table.get(environment) or {}).get("classes") or {}).get(risk_class) or {}


async def remediation(src: Sources) -> dict[str, str]:
    return await src.gate.engine.data("gatekeeper/matrix/remediation") or {}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:/-]{0,252}$")
