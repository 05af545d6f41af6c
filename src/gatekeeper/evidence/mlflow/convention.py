"""The MLflow evidence convention: which tag, metric and artifact holds which bundle field.

docs/mlflow.md ("What to log: the convention") is this module in prose. Both directions
live here, so that what `evidence publish` writes is what the source reads back:

- reading (`assemble` and its helpers): a registry version, its run, logged model and
  registered model -> the raw EvidenceBundle, with the origin of every field for messages;
- writing (`bundle_tags`, `bundle_metrics`, `dataset_input`): a bundle -> the tags,
  metrics and dataset inputs that read back as the same fields.

In short: the registry gives `model`, `version`, `artifact.uri` (the version's storage
location) and `lineage.run_id` (the version's source run); tags `gatekeeper.<field>` give
scalar fields, looked up on the model version, then its logged model, its run, the
registered model; metrics `performance.<name>` and `fairness.<attribute>.<metric>` on the
run or the logged model give the measurements; the run's tag `mlflow.source.git.commit`
and its dataset inputs give the lineage; the run's artifact folder `gatekeeper/` holds
the files (`model-card.md`, `pii-scan.json`, `data-quality.json`, `drift.json`, `fairness.json`,
the explainability report, `signoffs/*.json`, `waivers/*.json`). `fairness.json` carries what
metrics cannot (each attribute's favourable outcome, selection rates and evaluated_at);
metrics of the same name win over its numbers.
"""

from __future__ import annotations

import math
from posixpath import normpath
from typing import Any

from pydantic import RootModel, ValidationError

from gatekeeper.evidence.mlflow.registry import RegistryVersion
from gatekeeper.evidence.source import EvidenceError
from gatekeeper.types.bundle import (
    API_VERSION,
    KIND,
    DataQuality,
    Drift,
    EvidenceBundle,
    FairnessMetrics,
    PiiScan,
    describe_validation_error,
)
from gatekeeper.types.decision import RISK_CLASSES
from gatekeeper.types.strict_text import DuplicateKeyError, load_json

TAG_PREFIX = "gatekeeper."
EVIDENCE_FOLDER = "gatekeeper"
MODEL_CARD_FILE = "model-card.md"
PII_SCAN_FILE = "pii-scan.json"


class FairnessBlock(RootModel[dict[str, FairnessMetrics]]):
    """fairness.json: the fairness block, one entry per sensitive attribute."""


# Measured blocks published as JSON files in the evidence folder: file -> (bundle field, schema).
BLOCK_FILES: dict[str, tuple[str, type]] = {
    PII_SCAN_FILE: ("pii_scan", PiiScan),
    "data-quality.json": ("data_quality", DataQuality),
    "drift.json": ("drift", Drift),
    "fairness.json": ("fairness", FairnessBlock),
}
STATEMENT_FOLDERS = ("signoffs", "waivers")
DATASET_DIGEST_TAG = "gatekeeper.digest"
DATASET_CONTEXT_TAG = "mlflow.data.context"
GIT_COMMIT_TAG = "mlflow.source.git.commit"

# Tag suffix (after "gatekeeper.") -> the bundle field it sets.
TAG_FIELDS: dict[str, tuple[str, ...]] = {
    "risk_class": ("risk_class",),
    "owner": ("owner",),
    "artifact.digest": ("artifact", "digest"),
    "model_card.path": ("model_card", "path"),
    "explainability.method": ("explainability", "method"),
    "explainability.report": ("explainability", "report"),
    "monitoring.drift": ("monitoring", "drift"),
    "monitoring.dashboard": ("monitoring", "dashboard"),
}
# Tags the convention knows that carry no bundle field: `evidence publish` sets this one to
# a digest of what it published, so a new publication changes the version's revision.
REVISION_TAG = "evidence_revision"
FAIRNESS_METRICS = (
    "demographic_parity_ratio",
    "demographic_parity_difference",
    "equalized_odds_difference",
    "min_group_size",
)
# MLflow keeps at most this many characters in a dataset's own digest field.
_MAX_DATASET_DIGEST = 36


# --- reading: registry -> bundle ------------------------------------------------------------


def assemble(registry: RegistryVersion, listing: dict[str, int]) -> tuple[dict[str, Any], dict[str, str]]:
    """The raw bundle (before validation) and, per field, where its value came from.

    `listing` is the evidence folder's files (path -> size), as `list_artifacts` gives them.
    """
    mv = registry.version
    raw: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "model": mv.get("name"),
                           "version": str(mv.get("version"))}
    origins: dict[str, str] = {}
    layers = [
        ("model version", mv.get("tags")),
        ("logged model", registry.logged_model_tags()),
        ("run", registry.run_tags()),
        ("registered model", registry.registered.get("tags")),
    ]
    risk: list[tuple[str, str]] = []
    for layer, tags in layers:
        for tag in tags or []:
            key, value = str(tag.get("key", "")), tag.get("value")
            if not key.startswith(TAG_PREFIX):
                continue
            suffix = key[len(TAG_PREFIX):]
            if suffix == REVISION_TAG:
                continue
            if suffix not in TAG_FIELDS:
                raise EvidenceError("unreadable", f"{mv.get('name')} version {mv.get('version')}: tag '{key}' on the "
                                                  f"{layer} is not part of the evidence convention (docs/mlflow.md); "
                                                  f"known: {', '.join(TAG_PREFIX + k for k in TAG_FIELDS)}")
            if suffix == "risk_class":
                risk.append((layer, value))
                continue
            path = TAG_FIELDS[suffix]
            if ".".join(path) in origins:
                continue  # a more specific layer already set it
            _put(raw, path, value)
            origins[".".join(path)] = f"tag {key} on the {layer}"
    if risk:
        for layer, value in risk:
            if value not in RISK_CLASSES:
                raise EvidenceError("unreadable", f"{mv.get('name')} version {mv.get('version')}: tag "
                                                  f"{TAG_PREFIX}risk_class on the {layer} is '{value}', not one of "
                                                  f"{', '.join(RISK_CLASSES)}")
        # Any layer may raise the class, none may lower it (like the risk-class annotation).
        raw["risk_class"] = max((value for _, value in risk), key=RISK_CLASSES.index)
    location = registry.storage_location()
    if location:
        _put(raw, ("artifact", "uri"), location)
    if registry.run_id:
        raw["lineage"] = lineage(registry)
    metrics, metric_origins = measurements(registry)
    raw.update(metrics)
    origins.update(metric_origins)
    if "model_card" not in raw and MODEL_CARD_FILE in listing:
        raw["model_card"] = {"path": MODEL_CARD_FILE}
    for folder in STATEMENT_FOLDERS:
        found = sorted(path for path in listing if path.startswith(folder + "/") and path.endswith(".json"))
        if found:
            raw[folder] = found
    return raw, origins


def no_source_run(name: str, version: str, source: str) -> str:
    """Why a version registered without its run has no evidence, and how to register it from the run."""
    registered = f" from {source}" if source else ""
    return (f"{name} version {version} has no source run in MLflow (registered{registered} without run_id), so "
            "its run's evidence cannot be read; register it from the run: "
            f"mlflow.register_model(f'runs:/{{run_id}}/model', '{name}') or "
            f"MlflowClient().create_model_version('{name}', source, run_id=run_id)")


def raw_referenced_files(raw: dict[str, Any]) -> list[str]:
    """The files a raw (not yet validated) bundle refers to, as `referenced_files` lists them."""
    paths = [p for key in STATEMENT_FOLDERS for p in raw.get(key) or [] if isinstance(p, str)]
    for section, key in (("model_card", "path"), ("explainability", "report")):
        value = (raw.get(section) or {}).get(key)
        if isinstance(value, str) and value and "://" not in value:
            paths.append(value)
    return list(dict.fromkeys(paths))


def artifact_path(path: str) -> str | None:
    """The run artifact that holds a file the bundle refers to, or None for a URL or a path
    outside the evidence folder (evidence may only refer to its own folder, as with the
    file source)."""
    if "://" in path:
        return None
    clean = normpath(path)
    if clean.startswith("/") or clean == ".." or clean.startswith("../"):
        return None
    return f"{EVIDENCE_FOLDER}/{clean}"


def lineage(registry: RegistryVersion) -> dict[str, Any]:
    tags = {t.get("key"): t.get("value") for t in registry.run_tags()}
    out: dict[str, Any] = {"run_id": registry.run_id}
    if tags.get(GIT_COMMIT_TAG):
        out["code_commit"] = tags[GIT_COMMIT_TAG]
    datasets = []
    for entry in ((registry.run or {}).get("inputs") or {}).get("dataset_inputs") or []:
        dataset = entry.get("dataset") or {}
        input_tags = {t.get("key"): t.get("value") for t in entry.get("tags") or []}
        digest = input_tags[DATASET_DIGEST_TAG] if DATASET_DIGEST_TAG in input_tags else dataset.get("digest")
        item = {"name": dataset.get("name"), "digest": digest or None, "context": input_tags.get(DATASET_CONTEXT_TAG)}
        datasets.append({k: v for k, v in item.items() if v is not None})
    if datasets:
        out["datasets"] = datasets
    return out


def measurements(registry: RegistryVersion) -> tuple[dict[str, Any], dict[str, str]]:
    """performance.<name> and fairness.<attribute>.<metric>, the logged model's value winning."""
    latest: dict[str, tuple[float, str]] = {}
    for entry in ((registry.run or {}).get("data") or {}).get("metrics") or []:
        latest[entry["key"]] = (entry.get("value"), "run")
    logged: dict[str, tuple[tuple[int, int], float]] = {}
    for entry in ((registry.logged or {}).get("data") or {}).get("metrics") or []:
        order = (int(entry.get("timestamp") or 0), int(entry.get("step") or 0))
        if entry["key"] not in logged or order >= logged[entry["key"]][0]:
            logged[entry["key"]] = (order, entry.get("value"))
    for key, (_, value) in logged.items():
        latest[key] = (value, "logged model")
    out: dict[str, Any] = {}
    origins: dict[str, str] = {}
    name = f"{registry.version.get('name')} version {registry.version.get('version')}"
    for key, (value, where) in sorted(latest.items()):
        if key.startswith("performance."):
            field = ("performance", "metrics", key[len("performance."):])
        elif key.startswith("fairness."):
            attribute, _, metric = key[len("fairness."):].rpartition(".")
            if not attribute or metric not in FAIRNESS_METRICS:
                raise EvidenceError("unreadable", f"{name}: metric '{key}' on the {where} does not follow "
                                                  f"fairness.<attribute>.<metric> with a metric among "
                                                  f"{', '.join(FAIRNESS_METRICS)} (docs/mlflow.md)")
            field = ("fairness", attribute, metric)
        else:
            continue
        try:
            number = float(value)  # MLflow writes NaN and infinities as strings
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise EvidenceError("unreadable", f"{name}: metric '{key}' on the {where} is {value}, not a finite number")
        if field[-1] == "min_group_size":
            if number != int(number):
                raise EvidenceError("unreadable", f"{name}: metric '{key}' on the {where} is {value}, not a whole "
                                                  "number of rows")
            number = int(number)
        _put(out, field, number)
        origins[".".join(field)] = f"metric {key} on the {where}"
    return out, origins


def parse_block(content: bytes, schema: type, where: str, field: str = "") -> dict[str, Any]:
    """A measured block (pii_scan, data_quality, drift) from its JSON file, checked against
    its schema as strictly as a bundle file: no duplicate keys, no NaN, ranges, consistency."""
    try:
        data = load_json(content)
    except DuplicateKeyError as exc:
        raise EvidenceError("unreadable", f"{where}: {exc}") from None
    except ValueError as exc:
        raise EvidenceError("unreadable", f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        fields = "one entry per attribute" if issubclass(schema, RootModel) else ", ".join(schema.model_fields)
        raise EvidenceError("unreadable", f"{where}: expected a JSON object with {fields}")
    try:
        return schema.model_validate(data).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise EvidenceError("unreadable", f"{where}: {describe_validation_error(exc, field)}") from None


def merge_block(parsed: dict[str, Any], current: Any) -> dict[str, Any]:
    """A block read from its file, with what metrics already set for it winning (fairness: per attribute)."""
    if not isinstance(current, dict):
        return parsed
    merged = dict(parsed)
    for key, value in current.items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def has_evidence(raw: dict[str, Any], listing: dict[str, int], registry: RegistryVersion) -> bool:
    found_tag = any(
        str(tag.get("key", "")).startswith(TAG_PREFIX)
        for tags in (registry.version.get("tags"), registry.registered.get("tags"),
                     registry.run_tags(), registry.logged_model_tags())
        for tag in tags or []
    )
    return found_tag or bool(listing) or "performance" in raw or "fairness" in raw


def validate(raw: dict[str, Any], origins: dict[str, str], location: str) -> EvidenceBundle:
    try:
        return EvidenceBundle.model_validate(raw)
    except ValidationError as exc:
        loc = ".".join(str(part) for part in exc.errors()[0]["loc"])
        origin = next((where for field, where in origins.items() if loc == field or loc.startswith(field + ".")
                       or field.startswith(loc + ".")), None)
        suffix = f" (from {origin})" if origin else ""
        raise EvidenceError("unreadable", f"{location}: {describe_validation_error(exc)}{suffix}") from None


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value


# --- writing: bundle -> registry ------------------------------------------------------------


def bundle_tags(bundle: EvidenceBundle) -> dict[str, str]:
    """The `gatekeeper.*` model version tags that carry the bundle's scalar fields."""
    data = bundle.model_dump(mode="json", exclude_none=True)
    tags: dict[str, str] = {}
    for suffix, path in TAG_FIELDS.items():
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        tags[TAG_PREFIX + suffix] = str(value)
    return tags


def bundle_metrics(bundle: EvidenceBundle) -> dict[str, float]:
    """The `performance.*` and `fairness.*.*` run metrics that carry the bundle's measurements."""
    metrics: dict[str, float] = {}
    if bundle.performance:
        metrics.update({f"performance.{name}": float(value) for name, value in bundle.performance.metrics.items()})
    for attribute, values in (bundle.fairness or {}).items():
        for metric, value in values.model_dump(include=set(FAIRNESS_METRICS), exclude_none=True).items():
            metrics[f"fairness.{attribute}.{metric}"] = float(value)
    return metrics


def dataset_input(name: str, digest: str | None, context: str | None) -> dict[str, Any]:
    """A run dataset input that `lineage` reads back as {name, digest, context}.

    MLflow keeps at most 36 characters in a dataset's digest; a longer one (sha256:<64 hex>)
    goes whole into the input tag `gatekeeper.digest`, which `lineage` prefers.
    """
    digest = digest or ""
    native = digest
    tags = []
    if len(digest) > _MAX_DATASET_DIGEST:
        native = (digest.partition(":")[2] or digest)[:32]
        tags.append({"key": DATASET_DIGEST_TAG, "value": digest})
    if context:
        tags.append({"key": DATASET_CONTEXT_TAG, "value": context})
    entry: dict[str, Any] = {"dataset": {"name": name, "digest": native, "source_type": "external", "source": "{}"}}
    if tags:
        entry["tags"] = tags
    return entry
