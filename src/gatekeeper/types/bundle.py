"""The EvidenceBundle schema (README "Evidence bundle"): one per model version, whatever the source.

Strict: an unknown field is an error naming the field, so a typo never silently drops
evidence. Open-ended maps (metrics, fairness attributes, model card sections) stay open.
Evidence is written by the people the gate governs, so values that cannot be true are
refused here, as unreadable, rather than judged: numbers outside their range (a ratio of
rates above 1, a negative count, NaN), times that are not RFC 3339, and measured sections
that contradict themselves (README "What the gate refuses in evidence").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gatekeeper.types.strict_text import DuplicateKeyError, load_yaml

API_VERSION = "model-gatekeeper.io/v1"
KIND = "EvidenceBundle"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"


class _Strict(BaseModel):
    # allow_inf_nan: NaN compares false with every threshold, so it would pass them all.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _rfc3339(value: str) -> str:
    """A time with its offset, kept as written (the policy parses it; signatures cover the text)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 time (e.g. 2026-10-01T00:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: add Z or an offset")
    return value


# Measurements are numbers as written, never coerced: strict refuses `true` as 1 and "0.9"
# as 0.9 (an int is still a float). A ratio of two rates (low/high selection rate) or a
# rate is in [0, 1]; a difference of two rates, as fairness tools report it, is a magnitude
# in [0, 1].
Number = Annotated[float, Field(strict=True)]
Ratio = Annotated[float, Field(strict=True, ge=0, le=1)]
RateDifference = Annotated[float, Field(strict=True, ge=0, le=1)]
Count = Annotated[int, Field(strict=True, ge=0)]
Percent = Annotated[float, Field(strict=True, ge=0, le=100)]
Flag = Annotated[bool, Field(strict=True)]
Timestamp = Annotated[str, AfterValidator(_rfc3339)]


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
    metrics: dict[str, Number] = {}


class FairnessMetrics(_Strict):
    demographic_parity_ratio: Ratio | None = None
    demographic_parity_difference: RateDifference | None = None
    equalized_odds_difference: RateDifference | None = None
    min_group_size: Count | None = None
    # What the rates were measured on, each group's rate of it, and when (`evidence fairness`).
    favourable_outcome: str | None = None
    selection_rates: dict[str, Ratio] | None = None
    evaluated_at: Timestamp | None = None

    @field_validator("favourable_outcome", mode="before")
    @classmethod
    def _outcome_as_text(cls, value: object) -> object:
        # `favourable_outcome: 0` in YAML is an int; outcomes are compared as text.
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _ratio_and_difference_agree(self) -> FairnessMetrics:
        # Both come from the same selection rates: ratio = low/high, difference = high - low,
        # so difference = high * (1 - ratio) <= 1 - ratio (0.005 allows values rounded to 2 places).
        ratio, difference = self.demographic_parity_ratio, self.demographic_parity_difference
        if ratio is not None and difference is not None and difference > 1 - ratio + 0.005:
            raise ValueError(f"demographic_parity_difference {difference:g} cannot come with demographic_parity_ratio "
                             f"{ratio:g}: from the same selection rates the difference is at most 1 - ratio "
                             f"({1 - ratio:.4g})")
        return self


class Explainability(_Strict):
    method: str | None = None
    report: str | None = None


class PiiScan(_Strict):
    tool: str | None = None
    scanned_at: Timestamp | None = None
    dataset_digest: str | None = None
    open_findings: Count
    # Measured by `gatekeeper evidence pii` (Presidio): findings per entity type, what was scanned.
    entities: dict[str, Count] | None = None
    recognizers: list[str] | None = None
    columns: list[str] | None = None
    rows: Count | None = None

    @model_validator(mode="after")
    def _findings_are_the_entities(self) -> PiiScan:
        if self.entities is not None and sum(self.entities.values()) != self.open_findings:
            counted = ", ".join(f"{name} {n}" for name, n in self.entities.items() if n) or "none"
            raise ValueError(f"open_findings is {self.open_findings} but entities count "
                             f"{sum(self.entities.values())} ({counted}): open_findings must be the sum of the "
                             "entity counts")
        return self


class _Consistent(_Strict):
    """A measured section whose fields must agree; `_contradiction` says how they do not."""

    @model_validator(mode="after")
    def _agrees_with_itself(self) -> _Consistent:
        problem = self._contradiction()
        if problem:
            raise ValueError(problem)
        return self

    def _contradiction(self) -> str | None:
        return None


class DataQuality(_Consistent):
    """A Great Expectations validation result (`gatekeeper evidence data-quality`)."""

    tool: str | None = None
    suite: str | None = None
    success: Flag | None = None
    success_percent: Percent | None = None
    evaluated_expectations: Count | None = None
    failed: list[str] = []  # one entry per failed expectation
    evaluated_at: Timestamp | None = None
    dataset_digest: str | None = None

    def _contradiction(self) -> str | None:
        percent, evaluated, failed = self.success_percent, self.evaluated_expectations, len(self.failed)
        if evaluated == 0:
            return "evaluated_expectations is 0: a suite that evaluated no expectation shows nothing"
        if self.success is True and (failed or (percent is not None and percent < 100)):
            return (f"success is true but {failed} expectation(s) failed and success_percent is "
                    f"{_number(percent)}: success means every expectation passed")
        if percent == 100 and (self.success is False or failed):
            return (f"success_percent is 100 but success is {_yaml_bool(self.success)} with {failed} failed "
                    "expectation(s): 100 % means every expectation passed")
        if evaluated is None:
            return None
        if failed > evaluated:
            return f"failed lists {failed} expectations but only {evaluated} were evaluated"
        if percent is None:
            return None
        passed = percent * evaluated / 100
        if abs(passed - round(passed)) > 0.01 or ("failed" in self.model_fields_set
                                                 and evaluated - round(passed) != failed):
            return (f"success_percent {percent:g} of {evaluated} evaluated expectations does not match "
                    f"{failed} failed: success_percent must be 100 x passed / evaluated_expectations")
        return None


class Drift(_Consistent):
    """An Evidently data-drift result (`gatekeeper evidence drift`)."""

    tool: str | None = None
    method: str | None = None
    dataset_drift: Flag | None = None
    drift_share: Ratio | None = None
    drifted_columns: list[str] = []
    columns: Count | None = None
    evaluated_at: Timestamp | None = None
    reference_digest: str | None = None
    current_digest: str | None = None

    def _contradiction(self) -> str | None:
        # Evidently's dataset drift is share >= a threshold in (0, 1]: no share, no drift;
        # every column drifted, drift. The threshold itself is configurable, so nothing between.
        share, listed, drifted = self.drift_share, "drifted_columns" in self.model_fields_set, len(self.drifted_columns)
        if share is None:
            return None
        if self.dataset_drift is True and share == 0:
            return "dataset_drift is true but drift_share is 0: no drifted column is no dataset drift"
        if self.dataset_drift is False and share == 1:
            return "dataset_drift is false but drift_share is 1: every column drifted"
        if self.columns is not None and drifted > self.columns:
            return f"drifted_columns names {drifted} columns but only {self.columns} were compared"
        if self.columns is not None and listed and abs(share * self.columns - drifted) >= 0.5:
            return (f"drift_share {share:g} of {self.columns} columns does not match the {drifted} drifted_columns: "
                    "drift_share must be drifted / compared columns")
        if listed and (drifted == 0) != (share == 0):
            return (f"drift_share is {share:g} but drifted_columns names {drifted} columns: a share above 0 needs "
                    "the drifted columns, and named drifted columns a share above 0")
        return None


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


def _number(value: float | None) -> str:
    return "not given" if value is None else f"{value:g}"


def _yaml_bool(value: bool | None) -> str:
    return "not given" if value is None else str(value).lower()


def describe_validation_error(error: ValidationError, within: str = "") -> str:
    """One line naming the first offending field, for a person fixing the file; `within`
    names the section a part was validated as (an MLflow artifact holding one block)."""
    first = error.errors()[0]
    where = ".".join([within] * bool(within) + [str(part) for part in first["loc"]]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"field '{where}': unknown field (see the EvidenceBundle schema in the README)"
    if first["type"] == "missing":
        return f"field '{where}': required field is missing"
    if first["type"] == "value_error":  # our own rules say what is wrong and why
        return f"field '{where}': {str(first['ctx']['error'])}"
    if first["type"] == "finite_number":
        return f"field '{where}': {first['input']} is not a finite number (NaN and infinities are refused)"
    if first["type"] in ("greater_than_equal", "less_than_equal"):
        return f"field '{where}': {first['input']} is out of range ({first['msg'][len('Input should be '):]})"
    if first["type"] in ("int_type", "float_type", "bool_type"):
        return f"field '{where}': {first['msg']}, not {first['input']!r}"
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
        raw = load_yaml(path.read_text())
    except DuplicateKeyError as exc:
        raise BundleFileError(f"{path}: {exc}") from None
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
