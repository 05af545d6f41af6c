"""A model version's evidence pack (`gatekeeper report model`): what the evidence source,
the policy (asked through OPA) and the decision log say about it, gathered into one plain
document that reports.evidence_pack renders as Markdown, HTML or JSON.

Nothing here reads the clock or the machine: the moment the pack is "as of" is given, the
evidence is named by its model reference (not by where it lies on disk) and the log by its
signed checkpoint (not by its URL, which may hold a password), and every list is sorted;
so the same evidence, policy and log give the same document.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStore
from gatekeeper.audit import merkle
from gatekeeper.audit.note import Checkpoint, Note, NoteError
from gatekeeper.audit.proofs import with_cosignatures
from gatekeeper.audit.record import canonical_json
from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.evidence.signing.statements import rfc3339
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.evidence.source import EvidenceSource
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.types.decision import ModelRef, ObjectRef
from gatekeeper.types.policy_input import model_entry, policy_input

FORMAT = "model-gatekeeper/evidence-pack/v1"
# The evidence sections shown each under its own heading, in the pack's order.
MEASURED = ("data_quality", "fairness", "drift", "explainability", "pii_scan")
# Every record of one version: the log's own pages bound memory per page, not per version.
ALL = 2**62


class PackError(Exception):
    """The pack cannot be made (unknown model, unknown environment, unreadable evidence);
    the message is the one line the CLI prints."""


@dataclass(frozen=True)
class PackRequest:
    name: str
    version: str
    environment: str  # whose requirements (thresholds) apply: the matrix's overrides differ per environment
    now: datetime  # the moment the pack is as of: expiries and sign-off validity are judged at it


async def gather(request: PackRequest, engine: PolicyEngine, source: EvidenceSource, store: AuditStore | None,
                 placements: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The pack document. `store` None: no decision log asked; `placements` None: no cluster
    asked, else the inventory rows (auditor.inventory.as_json) of the workloads serving it."""
    facts = await engine.facts(lint=False)
    if request.environment not in facts.environments:
        known = ", ".join(sorted(facts.environments)) or "none"
        raise PackError(f"unknown environment '{request.environment}' (the requirement matrix defines: {known})")
    lookup = EvidenceLookup(source, timeout=10.0)
    lookup.trust(TrustStore.from_data(facts.signers))
    label = f"{request.name}@{request.version}"
    model = ModelRef(ref=f"models:/{request.name}/{request.version}", name=request.name, version=request.version)
    found = await lookup.find(model)
    if found.problem:
        raise PackError(found.problem)
    log = await decisions(store, request.name, request.version) if store is not None else None
    if found.facts is None and not (log and log["records"]):
        message = found.error["message"] if found.error else "no evidence"
        raise PackError(f"unknown model version {label}: {message}, and no decision about it in the log")
    now = rfc3339(request.now)
    entry = model_entry(model, request.version, found.facts, found.error)
    policy = await engine.model_report(policy_input(now, request.environment, "CREATE", ObjectRef(), [entry], []))
    evidence = (found.facts or {}).get("evidence") or {}
    requirements = policy.get("requirements") or {}
    return {
        "format": FORMAT,
        "model": {"name": request.name, "version": request.version, "ref": model.ref},
        "as_of": now,
        "policy": {"revision": facts.revision, "environment": policy.get("environment"),
                   "enforcement": policy.get("enforcement")},
        "evidence": {"source": source.name, "digest": found.digest or None,
                     "error": found.error["message"] if found.error else None},
        "classification": {"risk_class": policy.get("risk_class"), "registered": policy.get("registered"),
                           "evidence_says": evidence.get("risk_class")},
        "owner": evidence.get("owner"),
        "artifact": {"artifact": evidence.get("artifact"), "artifacts": evidence.get("artifacts"),
                     "requirement": requirements.get("artifact")},
        "model_card": {"card": evidence.get("model_card"), "requirement": requirements.get("model_card")},
        "lineage": {"lineage": evidence.get("lineage"), "requirement": requirements.get("lineage")},
        "performance": {"performance": evidence.get("performance"), "requirement": requirements.get("performance")},
        "data_quality": {"result": evidence.get("data_quality"), "requirement": requirements.get("data_quality")},
        "fairness": fairness(evidence.get("fairness"), requirements.get("fairness"),
                             policy.get("model_requirements") or {}),
        "drift": {"result": evidence.get("drift"), "monitoring": evidence.get("monitoring"),
                  "requirement": requirements.get("drift"), "monitoring_requirement": requirements.get("monitoring")},
        "explainability": {"result": evidence.get("explainability"), "requirement": requirements.get("explainability")},
        "pii_scan": {"result": evidence.get("pii_scan"), "requirement": requirements.get("pii")},
        "max_evidence_age_days": requirements.get("max_evidence_age_days"),
        "sections": (found.facts or {}).get("sections") or {},
        "signoffs": {"statements": sorted(policy.get("signoffs") or [], key=_by_source),
                     "requirement": requirements.get("signoffs")},
        "waivers": sorted(policy.get("waivers") or [], key=_by_source),
        "requirements": requirements,
        "decisions": log,
        "placements": None if placements is None else sorted(
            (row for row in placements if label in row.get("models", [])),
            key=lambda row: (row.get("namespace", ""), row.get("kind", ""), row.get("name", ""))),
        "regulations": policy.get("regulations"),
    }


def fairness(results: dict[str, Any] | None, requirement: dict[str, Any] | None,
             model_requirements: dict[str, Any]) -> dict[str, Any]:
    """Each attribute's results beside the class's thresholds, and the attributes required
    of this class and of this model (the matrix's `models`)."""
    required = set((requirement or {}).get("required_attributes") or [])
    required |= set(((model_requirements.get("fairness") or {}).get("required_attributes")) or [])
    return {"attributes": {name: results[name] for name in sorted(results or {})},
            "requirement": requirement, "required_attributes": sorted(required),
            "missing_attributes": sorted(required - set(results or {}))}


def _by_source(statement: dict[str, Any]) -> str:
    return str(statement.get("source") or "")


async def decisions(store: AuditStore, name: str, version: str) -> dict[str, Any]:
    """Every recorded decision about NAME@VERSION in log order, each with its inclusion proof
    in the newest signed checkpoint, checked here against that checkpoint's root."""
    records = sorted(await store.list(model=f"{name}@{version}", limit=ALL), key=lambda r: r.seq)
    newest = await store.checkpoint()
    log: dict[str, Any] = {"checkpoint": None, "origin": None, "size": None, "records": []}
    if newest is not None:
        log.update(checkpoint=with_cosignatures(newest), size=newest.size, origin=_origin(newest.note))
    contents = {r.seq: r.content() for r in records}
    provable = [r for r in records if not r.pruned and newest is not None and r.seq <= newest.size]
    proofs = await _proofs(store, provable, contents, newest)
    for record in records:
        log["records"].append({"record": contents[record.seq], "summary": summary(record, name, version),
                               "proof": proofs.get(record.seq) or _unproved(record)})
    return log


def summary(record: AuditRecord, name: str, version: str) -> dict[str, Any]:
    """What the pack's tables show of one record: this model's part of the decision."""
    mine = [v for v in record.violations if (v.model, v.version) in ((name, version), ("", ""))]
    waived = [v for v in record.waived if (v.model, v.version) == (name, version)]
    return {"seq": record.seq, "decision_id": record.decision_id, "time": rfc3339(record.time),
            "source": record.source, "outcome": record.outcome, "environment": record.environment,
            "object": record.object.display(), "operation": record.operation, "dry_run": record.dry_run,
            "pruned": record.pruned, "violations": sorted({v.requirement for v in mine}),
            "waived": sorted({v.requirement for v in waived}), "policy_revision": record.policy_revision,
            "evidence_digest": record.evidence_digest, "reason": record.reason,
            "input_digest": record.input_digest}


async def _proofs(store: AuditStore, records: list[AuditRecord], contents: dict[int, dict[str, Any]],
                  newest: Any) -> dict[int, dict[str, Any]]:
    """The inclusion proofs of RECORDS (seq -> proof) from one read of the stored subtree
    hashes they need: a version's thousands of proofs share most of their steps."""
    paths = [merkle.inclusion_ranges(r.seq - 1, newest.size) for r in records]
    steps = list(dict.fromkeys(step for path in paths for step in path))
    if not steps:  # a tree of one leaf: its proof is empty
        hash_of: dict[merkle.Range, bytes] = {}
    else:
        hash_of = dict(zip(steps, await store.hashes(steps)))
    encoded = {step: base64.b64encode(h).decode() for step, h in hash_of.items()}
    proofs = {}
    for record, path in zip(records, paths):
        leaf = canonical_json(contents[record.seq]).encode("utf-8", "surrogatepass")
        try:
            merkle.verify_inclusion(merkle.leaf_hash(leaf), record.seq - 1, newest.size,
                                    [hash_of[step] for step in path], newest.root)
            status = "verified"
        except merkle.ProofError as exc:
            status = f"does not verify: {exc}"
        proofs[record.seq] = {"status": status, "leaf_index": record.seq - 1, "tree_size": newest.size,
                              "inclusion_proof": [encoded[step] for step in path]}
    return proofs


def _unproved(record: AuditRecord) -> dict[str, Any]:
    return {"status": "pruned" if record.pruned else "not in a signed checkpoint yet"}


def _origin(note: str) -> str | None:
    try:
        return Checkpoint.parse(Note.parse(note).text).origin
    except NoteError:
        return None
