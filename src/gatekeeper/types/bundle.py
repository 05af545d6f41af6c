"""The EvidenceBundle schema (README "Evidence bundle"): one per model version, whatever the source.

Strict: an unknown field is an error naming the field, so a typo never silently drops
evidence. Open-ended maps (metrics, fairness attributes, model card sections) stay open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

API_VERSION = "model-gatekeeper.io/v1"
KIND = "EvidenceBundle"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Artifact(_Strict):
    uri: str | None = None
    digest: str | None = Field(None, pattern=DIGEST_PATTERN)


class RegisteredArtifact(_Strict):
    """A further artifact the model version loads (an explainer, a tokenizer, the server
    image with the model baked in): a URI, a content digest, or an image pinned by digest."""

    component: str | None = None
    uri: str | None = None
    digest: str | None = Field(None, pattern=DIGEST_PATTERN)
    image: str | None = Field(None, pattern=r"^[^@\s]+@sha256:[0-9a-f]{64}$")


class ModelCard(_Strict):
    path: str | None = None
    sections: dict[str, str] | None = None


class Dataset(_Strict):
    name: str
    digest: str | None = None
    context: str | None = None


class Lineage(_Strict):
    run_id: str | None = None
    code_commit: str | None = None
    datasets: list[Dataset] = []


class Performance(_Strict):
    metrics: dict[str, float] = {}


class FairnessMetrics(_Strict):
    demographic_parity_ratio: float | None = None
    demographic_parity_difference: float | None = None
    equalized_odds_difference: float | None = None
    min_group_size: int | None = None
    # What the rates were measured on, each group's rate of it, and when (`evidence fairness`).
    favourable_outcome: str | None = None
    selection_rates: dict[str, float] | None = None
    evaluated_at: str | None = None

    @field_validator("favourable_outcome", mode="before")
    @classmethod
    def _outcome_as_text(cls, value: object) -> object:
        # `favourable_outcome: 0` in YAML is an int; outcomes are compared as text.
        return str(value) if isinstance(value, (int, float)) else value


class Explainability(_Strict):
    method: str | None = None
    report: str | None = None


class PiiScan(_Strict):
    tool: str | None = None
    scanned_at: str | None = None
    dataset_digest: str | None = None
    open_findings: int
    # Measured by `gatekeeper evidence pii` (Presidio): findings per entity type, what was scanned.
    entities: dict[str, int] | None = None
    recognizers: list[str] | None = None
    columns: list[str] | None = None
    rows: int | None = None


class DataQuality(_Strict):
    """A Great Expectations validation result (`gatekeeper evidence data-quality`)."""

    tool: str | None = None
    suite: str | None = None
    success: bool | None = None
    success_percent: float | None = None
    evaluated_expectations: int | None = None
    failed: list[str] = []
    evaluated_at: str | None = None
    dataset_digest: str | None = None


class Drift(_Strict):
    """An Evidently data-drift result (`gatekeeper evidence drift`)."""

    tool: str | None = None
    method: str | None = None
    dataset_drift: bool | None = None
    drift_share: float | None = None
    drifted_columns: list[str] = []
    columns: int | None = None
    evaluated_at: str | None = None
    reference_digest: str | None = None
    current_digest: str | None = None


class Monitoring(_Strict):
    drift: Literal["enabled", "disabled"] | None = None
    dashboard: str | None = None


class EvidenceBundle(_Strict):
    api_version: Literal["model-gatekeeper.io/v1"] = Field(alias="apiVersion")
    kind: Literal["EvidenceBundle"]
    model: str
    version: str
    risk_class: Literal["prohibited", "high", "limited", "minimal"] | None = None
    owner: str | None = None
    artifact: Artifact | None = None
    # Optional; bundles without it keep their meaning (artifact.uri is the one location).
    artifacts: list[RegisteredArtifact] = []
    model_card: ModelCard | None = None
    lineage: Lineage | None = None
    performance: Performance | None = None
    fairness: dict[str, FairnessMetrics] | None = None
    explainability: Explainability | None = None
    pii_scan: PiiScan | None = None
    data_quality: DataQuality | None = None
    drift: Drift | None = None
    monitoring: Monitoring | None = None
    signoffs: list[str] = []
    waivers: list[str] = []

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # YAML reads `version: 3` as an int; versions are strings everywhere else.
        return str(value) if isinstance(value, int) else value


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first offending field, for a person fixing the file."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"field '{where}': unknown field (see the EvidenceBundle schema in the README)"
    if first["type"] == "missing":
        return f"field '{where}': required field is missing"
    return f"field '{where}': {first['msg']}"


class BundleFileError(ValueError):
    """A bundle file that cannot be read or does not fit the schema; the message names it."""


def bundle_path(path: str | Path) -> Path:
    """A bundle folder or its evidence.yaml -> the evidence.yaml."""
    path = Path(path)
    return path / "evidence.yaml" if path.is_dir() else path


def read_bundle_yaml(path: Path) -> dict[str, Any]:
    """The raw mapping of an evidence.yaml, for tools that edit or upload bundles."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise BundleFileError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise BundleFileError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise BundleFileError(f"{path}: expected an EvidenceBundle mapping")
    return raw


def validate_bundle(raw: dict[str, Any], path: Path) -> EvidenceBundle:
    try:
        return EvidenceBundle.model_validate(raw)
    except ValidationError as exc:
        raise BundleFileError(f"{path}: {describe_validation_error(exc)}") from None
