"""The OPA input document (docs/policy-input.md): everything a policy may depend on.

TypedDicts, not pydantic models: the input is built for every review and sent as JSON, and
a TypedDict is the plain dict orjson writes, with no validation or copy on the hot path.
The constructors below fix the keys and their order; tests validate what the pipeline
builds against these types (`pydantic.TypeAdapter(PolicyInput)`, extra keys forbidden).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, Protocol

from pydantic import ConfigDict, with_config
from typing_extensions import NotRequired, TypedDict  # pydantic validates typing_extensions' TypedDict on 3.11

from gatekeeper.types.decision import ModelRef, ObjectRef

# How evidence failed for one model version; the policy reports `evidence.<kind>`.
EvidenceErrorKind = Literal["missing", "unreadable", "unavailable", "mismatch"]

_STRICT = ConfigDict(extra="forbid")


class ArtifactLocation(Protocol):
    """A place an object loads a model from (pipeline.locations.Location)."""

    def as_input(self) -> dict[str, Any]: ...


@with_config(_STRICT)
class ObjectFacts(TypedDict):
    """Which object is admitted (`ObjectRef` by its JSON names)."""

    apiVersion: str  # noqa: N815 - the Kubernetes field name
    kind: str
    namespace: str | None
    name: str


@with_config(_STRICT)
class EvidenceErrorFact(TypedDict):
    kind: EvidenceErrorKind
    message: str


@with_config(_STRICT)
class VerifiedStatement(TypedDict):
    """A sign-off or waiver after Python checked its signature; the policy checks the rest."""

    source: str
    signature_valid: bool
    error: str | None
    keyid: str | None
    subject_digests: list[str]
    # Each subject as `{name, digest}` (digest `sha256:<hex>`): the policy checks the name too.
    subjects: list[dict[str, str]]
    predicate_type: str | None
    predicate: dict[str, Any]


@with_config(_STRICT)
class EvidenceFacts(TypedDict):
    """What the evidence of one version says: the bundle with its files resolved
    (model card sections, report presence), the digest of each section (what a sign-off
    covers: evidence.sections) and its verified statements."""

    evidence: dict[str, Any]
    sections: dict[str, str]
    signoffs: list[VerifiedStatement]
    waivers: list[VerifiedStatement]


@with_config(_STRICT)
class ModelEntry(TypedDict):
    """One served model: the reference as the workload names it, and its evidence or why
    there is none (`evidence_error`, then `evidence` is null)."""

    ref: str
    name: str
    version: str | None
    alias: str | None
    declared_risk_class: str | None
    storage_uri: str | None
    evidence_error: EvidenceErrorFact | None
    evidence: dict[str, Any] | None
    sections: dict[str, str]
    signoffs: list[VerifiedStatement]
    waivers: list[VerifiedStatement]


@with_config(_STRICT)
class ReferenceErrorFact(TypedDict):
    """What kept the gate from naming the served model; the policy reports `evidence.model_reference`."""

    message: str


@with_config(_STRICT)
class PolicyInput(TypedDict):
    """`input` of `data.gatekeeper.decision` (and each item of the batch query)."""

    now: str  # RFC 3339: the policy never reads the clock, so a decision is reproducible
    environment: str
    operation: str
    object: ObjectFacts
    models: list[ModelEntry]
    reference_errors: list[ReferenceErrorFact]
    # Every place the object loads a model from (pipeline.locations.Location.as_input).
    artifacts: list[dict[str, Any]]
    # Namespace CREATE/UPDATE changing the environment label: key, old, new, user, groups.
    namespace_label: NotRequired[dict[str, Any]]


def model_entry(model: ModelRef, version: str | None, facts: EvidenceFacts | None = None,
                error: EvidenceErrorFact | None = None) -> ModelEntry:
    """The entry for `model` looked up as `version` (an alias resolved, or None when it
    could not be): with the evidence's facts, or with the error that kept them away."""
    return {
        "ref": model.ref, "name": model.name, "version": version, "alias": model.alias,
        "declared_risk_class": model.declared_risk_class, "storage_uri": model.storage_uri,
        "evidence_error": error,
        "evidence": facts["evidence"] if facts else None,
        "sections": facts["sections"] if facts else {},
        "signoffs": facts["signoffs"] if facts else [],
        "waivers": facts["waivers"] if facts else [],
    }


def policy_input(now: str, environment: str, operation: str, obj: ObjectRef, models: list[ModelEntry],
                 reference_errors: list[str], locations: Iterable[ArtifactLocation] = (),
                 namespace_label: dict[str, Any] | None = None) -> PolicyInput:
    document: PolicyInput = {
        "now": now,
        "environment": environment,
        "operation": operation,
        "object": obj.model_dump(by_alias=True),  # type: ignore[typeddict-item]
        "models": models,
        "reference_errors": [{"message": message} for message in reference_errors],
        "artifacts": [location.as_input() for location in locations],
    }
    if namespace_label:
        document["namespace_label"] = namespace_label
    return document
