"""One audit record: what was decided about which object, chained to the record before it."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gatekeeper.types import canonical
from gatekeeper.types.decision import DecidedModel, Decision, ObjectRef, Violation, WaivedViolation

Outcome = Literal["admitted", "denied", "warned", "error"]
OUTCOMES: tuple[str, ...] = ("admitted", "denied", "warned", "error")
# webhook: an AdmissionReview from the API server; api: POST /v1/evaluate (an evaluation,
# never an admission); cli: `gatekeeper check`; background: the auditor re-judging
# running workloads (`gatekeeper monitor`).
Source = Literal["webhook", "cli", "api", "background"]
SOURCES: tuple[str, ...] = get_args(Source)
REASONS: dict[str, str] = {
    "over_budget": "no decision within the response budget; answered per the environment's enforcement",
    "annotation_removed": "UPDATE removing the model annotation: the new object serves no model",
    "not_judged": "DELETE/CONNECT of an object that serves a model: always admitted",
    "unknown_environment": "the environment is not in the requirement matrix; denied",
    "internal_error": "the gate itself failed (the error names the exception and the module); answered per the environment's enforcement",
}

# prev_hash of record 1: there is no record 0 to point at.
GENESIS_HASH = "0" * 64
CHAIN_FIELDS = frozenset({"seq", "prev_hash", "hash"})


def canonical_json(content: dict[str, Any]) -> str:
    """Sorted keys, no spaces, ASCII only, as text (the form the log stores).

    ASCII escapes keep the text byte-identical through any database encoding (and
    PostgreSQL text cannot hold lone surrogates); the hash is over exactly this text.
    """
    return canonical.canonical_json(content).decode("ascii")


def sha256_hex(text: str) -> str:
    # canonical_json() is ASCII, so this is its bytes; an edited row may not be, and must
    # still hash (to a mismatch) rather than raise.
    return canonical.sha256_hex(text.encode("utf-8", "surrogatepass"))


class AuditRecord(BaseModel):
    """A decision as the audit log keeps it (README "The webhook")."""

    model_config = ConfigDict(populate_by_name=True)

    decision_id: str
    time: datetime
    request_uid: str | None = None
    user: str | None = None
    operation: str | None = None
    object: ObjectRef
    environment: str
    models: list[DecidedModel] = []
    evidence_digest: str = ""
    policy_revision: str = ""
    outcome: Outcome
    allowed: bool
    enforcement: str
    violations: list[Violation] = []
    # Waived violations and warnings are what an auditor asks about next ("why was this
    # admitted?"), so they are kept too.
    waived: list[WaivedViolation] = []
    warnings: list[str] = []
    dry_run: bool = False
    source: Source
    error: str | None = None
    # Why the review was answered without a policy evaluation (REASONS); None when OPA
    # judged it. Records written before this field existed read as None and verify as they
    # were written (the hash is over the stored text).
    reason: str | None = None
    # The subresource an admission wrote through (`status`, `finalize` of a Namespace,
    # `ephemeralcontainers` of a Pod); None for the object itself and for older records.
    subresource: str | None = None
    # sha256 of the OPA input the decision was made on, stored beside the log
    # (content-addressed, README "Replay a decision"); None when none was stored: a review
    # answered without one, or a record written before inputs were kept.
    input_digest: str | None = None
    # Chain fields: set by the store when the record is appended.
    seq: int = 0
    prev_hash: str = ""
    hash: str = Field("", description="sha256 of canonical_json(content incl. seq, prev_hash)")
    # Set on reading a record whose body `audit prune` removed; never part of the content.
    pruned: bool = False

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # Naive times are taken as UTC; aware ones are converted so every record reads alike.
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @classmethod
    def from_decision(
        cls,
        decision: Decision,
        *,
        request_uid: str | None,
        user: str | None,
        dry_run: bool,
        source: Source,
        subresource: str | None = None,
    ) -> AuditRecord:
        # The decision is already validated; constructing without re-validating it keeps
        # this off the webhook's CPU budget (it runs once per review).
        return cls.model_construct(
            decision_id=decision.decision_id or uuid.uuid4().hex,
            time=datetime.now(timezone.utc),
            request_uid=request_uid,
            user=user,
            operation=decision.operation,
            object=decision.object,
            environment=decision.environment,
            models=decision.models,
            evidence_digest=decision.evidence_digest,
            policy_revision=decision.policy_revision,
            outcome=outcome_of(decision),
            allowed=decision.allowed,
            enforcement=decision.enforcement,
            violations=decision.violations,
            waived=decision.waived,
            warnings=decision.warnings,
            dry_run=dry_run,
            source=source,
            error=decision.error,
            subresource=subresource,
        )

    def content(self) -> dict[str, Any]:
        """The hashed content as plain JSON values (all fields but `hash`).

        pydantic's JSON mode turns every value (datetimes, NaN in an `observed` metric, ...)
        into JSON the same way on append and on re-reading.
        """
        return self.model_dump(mode="json", by_alias=True, exclude={"hash", "pruned"})

    def canonical_json(self) -> str:
        return canonical_json(self.content())

    def compute_hash(self) -> str:
        return sha256_hex(self.canonical_json())

    def model_labels(self) -> list[str]:
        """What `--model` matches: each model's name and `name@version`."""
        return [label for m in self.models for label in _labels(m.name, m.version)]


def _labels(name: str, version: str | None) -> list[str]:
    return [name, f"{name}@{version}"] if version else [name]


def labels_of(content: dict[str, Any]) -> list[str]:
    """model_labels() from a record's JSON content (used when re-checking stored rows)."""
    return [label for m in content.get("models", []) for label in _labels(m["name"], m.get("version"))]


def outcome_of(decision: Decision) -> Outcome:
    if decision.error:
        return "error"
    if not decision.allowed:
        return "denied"
    if decision.violations or decision.warnings or decision.waived:
        return "warned"
    return "admitted"
