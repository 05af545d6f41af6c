"""Which model does an object serve? object -> [ModelRef] (DESIGN §3).

Pure functions over plain dicts, shared by the webhook and the CLI.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.types.decision import ModelRef, ObjectRef

ANNOTATION_PREFIX = "model-gatekeeper.io/"
MODEL_ANNOTATION = ANNOTATION_PREFIX + "model"
RISK_ANNOTATION = ANNOTATION_PREFIX + "risk-class"
ENVIRONMENT_LABEL = ANNOTATION_PREFIX + "environment"

# (group, kind) pairs the gate judges; version-agnostic within the group so an older
# served version of the CRD is still gated.
WORKLOAD_KINDS = {("apps", "Deployment"), ("apps", "StatefulSet")}
SERVING_KINDS = {("serving.kserve.io", "InferenceService"), ("mlops.seldon.io", "Model")}

# models:/<name>/<version> or models:/<name>@<alias>; MLflow allows most characters in
# names, but not '/' or '@'.
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@\s]+)(?:/(?P<version>[^/@\s]+)|@(?P<alias>[^/@\s]+))$")


class ModelReferenceError(ValueError):
    """An annotation that does not name a model the gate can look up."""


@dataclass
class ServedModels:
    """What an object serves: its identity, model references and why some could not be read."""

    object: ObjectRef
    gated: bool
    models: list[ModelRef] = field(default_factory=list)
    reference_errors: list[str] = field(default_factory=list)
    # True when an annotation exists but is malformed: bad input for the CLI (exit 2),
    # a denial for the webhook. A missing annotation is only a denial.
    malformed_reference: bool = False


def parse_model_uri(uri: str) -> ModelRef:
    match = _MODEL_URI.match(uri.strip())
    if not match:
        raise ModelReferenceError(
            f"'{uri}' is not a model URI: expected models:/<name>/<version> or models:/<name>@<alias>"
        )
    return ModelRef(ref=uri.strip(), name=match["name"], version=match["version"], alias=match["alias"])


def object_ref(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        apiVersion=str(obj.get("apiVersion", "")),
        kind=str(obj.get("kind", "")),
        namespace=meta.get("namespace"),
        name=str(meta.get("name") or meta.get("generateName") or ""),
    )


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _annotations(node: dict[str, Any] | None) -> dict[str, str]:
    meta = (node or {}).get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return annotations if isinstance(annotations, dict) else {}


def _storage_uri(obj: dict[str, Any], kind: str) -> str | None:
    spec = obj.get("spec") or {}
    if kind == "InferenceService":
        predictor = spec.get("predictor") or {}
        # v1beta1 has the new `model:` form and the older per-framework form.
        for key in ("model", *[k for k in predictor if isinstance(predictor.get(k), dict)]):
            uri = (predictor.get(key) or {}).get("storageUri")
            if uri:
                return str(uri)
        return None
    if kind == "Model":
        uri = spec.get("storageUri")
        return str(uri) if uri else None
    return None


def served_models(obj: dict[str, Any]) -> ServedModels:
    """Name the models an object serves; reference errors are facts for the policy."""
    ref = object_ref(obj)
    key = (_group(ref.api_version), ref.kind)
    if key not in WORKLOAD_KINDS and key not in SERVING_KINDS:
        return ServedModels(object=ref, gated=False)

    annotations = _annotations(obj)
    if key in WORKLOAD_KINDS:
        template = (obj.get("spec") or {}).get("template") or {}
        # The pod template's annotation counts too; the object's own wins when both exist.
        annotations = {**_annotations(template), **annotations}
        if MODEL_ANNOTATION not in annotations:
            return ServedModels(object=ref, gated=False)

    served = ServedModels(object=ref, gated=True)
    uri = annotations.get(MODEL_ANNOTATION)
    if uri is None:
        served.reference_errors.append(
            f"{ref.kind} serves a model but has no {MODEL_ANNOTATION} annotation naming it"
        )
        return served
    try:
        model = parse_model_uri(str(uri))
    except ModelReferenceError as exc:
        served.reference_errors.append(f"annotation {MODEL_ANNOTATION}: {exc}")
        served.malformed_reference = True
        return served
    declared = annotations.get(RISK_ANNOTATION)
    model.declared_risk_class = str(declared).strip().lower() if declared else None
    model.storage_uri = _storage_uri(obj, ref.kind)
    served.models.append(model)
    return served
