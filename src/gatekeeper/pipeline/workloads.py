"""Which model does an object serve? object -> [ModelRef] and where it loads them (README "Which workloads, which model, which artifact").

Pure functions over plain dicts, shared by the webhook and the CLI. Which kinds are
judged, and where each loads its artifacts, is the serving-kinds table
(`data.gatekeeper.serving`, compiled into `ServingKinds`): a kind it does not name is
answered after one dict lookup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gatekeeper.pipeline import locations
from gatekeeper.pipeline.locations import Inspection, Location
from gatekeeper.pipeline.serving import Kind, Owner, ServingKinds
from gatekeeper.types.decision import ModelRef, ObjectRef
from gatekeeper.types.names import model_ref_problem

ANNOTATION_PREFIX = "model-gatekeeper.io/"
MODEL_ANNOTATION = ANNOTATION_PREFIX + "model"
RISK_ANNOTATION = ANNOTATION_PREFIX + "risk-class"
ENVIRONMENT_LABEL = ANNOTATION_PREFIX + "environment"

# models:/<name>/<version> or models:/<name>@<alias>; MLflow allows most characters in
# names, but not '/' or '@'.
_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@\s]+)(?:/(?P<version>[^/@\s]+)|@(?P<alias>[^/@\s]+))$")


class ModelReferenceError(ValueError):
    """An annotation that does not name a model the gate can look up."""


@dataclass
class ServedModels:
    """What an object serves: its identity, model references, where it loads models from,
    and why some could not be read."""

    object: ObjectRef
    gated: bool
    models: list[ModelRef] = field(default_factory=list)
    reference_errors: list[str] = field(default_factory=list)
    # True when an annotation exists but is malformed: bad input for the CLI (exit 2),
    # a denial for the webhook. A missing annotation is only a denial.
    malformed_reference: bool = False
    # Every place the object loads a model artifact from (`input.artifacts`).
    locations: list[Location] = field(default_factory=list)
    # Why an object of a table kind is not judged (None when gated or not a table kind).
    skip_reason: str | None = None
    # A Namespace whose environment label is set, changed or removed: {"key", "old", "new"}.
    label_change: dict[str, Any] | None = None
    # The controller whose judgement would cover this object, still to be confirmed real
    # (`served_models(..., confirm_owner=True)`); the object is judged itself if it is not.
    owner: Owner | None = None
    # Which of `reference_errors` says the object names no model (None: it names one).
    unannotated: int | None = None

    def owner_not_counted(self, note: str) -> None:
        """Say, on the line that denies it, why the owner it names did not exempt it."""
        if self.unannotated is not None:
            self.reference_errors[self.unannotated] += f"; {note}"


def parse_model_uri(uri: str) -> ModelRef:
    match = _MODEL_URI.match(uri.strip())
    if not match:
        raise ModelReferenceError(
            f"'{uri}' is not a model URI: expected models:/<name>/<version> or models:/<name>@<alias>"
        )
    problem = model_ref_problem(match["name"], match["version"], match["alias"])
    if problem:
        raise ModelReferenceError(f"'{uri}': {problem}")
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


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _nowhere(ref: ObjectRef) -> Location:
    return Location("spec", ref.kind, "opaque", "no artifact location",
                    reason=f"the {ref.kind} names no storage URI, model argument, STORAGE_URI or image "
                           "the model is loaded from")


def _label(obj: dict[str, Any] | None, key: str) -> str | None:
    labels = ((obj or {}).get("metadata") or {}).get("labels")
    value = labels.get(key) if isinstance(labels, dict) else None
    return None if value is None else str(value)


def _namespace(obj: dict[str, Any], ref: ObjectRef, kinds: ServingKinds, old: dict[str, Any] | None,
               admission: bool) -> ServedModels:
    """A Namespace is judged when its environment label is set, changed or removed at
    admission (who does it is known only there); the policy decides who may."""
    if not admission:
        return ServedModels(object=ref, gated=False, skip_reason="namespaces are judged at admission only")
    before, after = _label(old, kinds.label_key), _label(obj, kinds.label_key)
    if before == after:
        return ServedModels(object=ref, gated=False, skip_reason=f"{kinds.label_key} unchanged")
    return ServedModels(object=ref, gated=True, label_change={"key": kinds.label_key, "old": before, "new": after})


def ownership(kinds: ServingKinds, obj: dict[str, Any], row: Kind) -> tuple[Owner | None, Inspection | None]:
    """The controller whose judgement would cover `obj` (None: judged itself; an Owner that
    does not `count` exempts nothing), and what was added to it later that runs a model
    server (judged whoever the owner is). One answer for every door: admission
    (served_models) and the auditor's listing."""
    owner = kinds.controller_owner(obj, row) if row.serves != "always" else None
    return owner, (locations.inspect_added_later(kinds, obj, row) if owner is not None else None)


def served_models(obj: dict[str, Any], kinds: ServingKinds, *, old: dict[str, Any] | None = None,
                  admission: bool = False, confirm_owner: bool = False) -> ServedModels:
    """Name the models an object serves and where it loads them; reference errors are
    facts for the policy. `old` (the object before an UPDATE) and `admission` (a request
    whose user is known) matter for Namespaces only. An object a controller of the table
    owns was judged through that owner and is skipped; with `confirm_owner` (an admission
    not made by Kubernetes' own controllers) it is judged as if unowned and carries the
    owner in `owner`, for the caller to skip it once the owner is confirmed real."""
    ref = object_ref(obj)
    row = kinds.kind_of(_group(ref.api_version), ref.kind)
    if row is None:
        if ref.kind == "Namespace" and ref.api_version == "v1":
            return _namespace(obj, ref, kinds, old, admission)
        if (_group(ref.api_version), ref.kind) in kinds.owner_only:
            return ServedModels(object=ref, gated=False, skip_reason="owner-only kind: serves no model itself")
        return ServedModels(object=ref, gated=False)
    owner, added = ownership(kinds, obj, row)
    ignored = None
    if added is not None:
        # Its owner judged what it created, not what was added later (kubectl debug's
        # ephemeral containers): a model server added so is judged like the object's own,
        # whoever the owner is.
        owner, inspection = None, added
    elif owner is not None and not owner.counts:
        # An owner whose row names no controllers exempts nothing, at any door.
        ignored, owner = owner, None
        inspection = locations.inspect(kinds, obj, row)
    elif owner is not None and not confirm_owner:
        return ServedModels(object=ref, gated=False, skip_reason=owner.skip_reason())
    else:
        inspection = locations.inspect(kinds, obj, row)

    annotations = _annotations(obj)
    if row.template:
        # The pod template's annotation counts too; the object's own wins when both exist.
        annotations = {**_annotations(_at(obj, row.template)), **annotations}
    if (row.serves != "always" and MODEL_ANNOTATION not in annotations and not inspection.servers
            and not inspection.shape_errors):
        return ServedModels(object=ref, gated=False,
                            skip_reason=f"no {MODEL_ANNOTATION} annotation and no known model server")

    served = ServedModels(object=ref, gated=True, locations=inspection.locations, owner=owner)
    served.reference_errors.extend(inspection.shape_errors)
    uri = annotations.get(MODEL_ANNOTATION)
    if uri is None:
        if inspection.servers:
            name, image = inspection.servers[0]
            # say where an added container is: its owner's spec does not show it
            added_at = "" if added is None else (
                f" in a container added to the running {ref.kind} ({'.'.join(p for p in row.added_later[0] if p != '*')})")
            served.reference_errors.append(
                f"{ref.kind} runs model server {name} (image {image}){added_at} but has no {MODEL_ANNOTATION} "
                "annotation naming its model"
            )
        else:
            served.reference_errors.append(
                f"{ref.kind} serves a model but has no {MODEL_ANNOTATION} annotation naming it"
            )
        served.unannotated = len(served.reference_errors) - 1
        if ignored is not None:
            served.owner_not_counted(ignored.not_counted(None))
        return served
    try:
        model = parse_model_uri(str(uri))
    except ModelReferenceError as exc:
        served.reference_errors.append(f"annotation {MODEL_ANNOTATION}: {exc}")
        served.malformed_reference = True
        return served
    declared = annotations.get(RISK_ANNOTATION)
    model.declared_risk_class = str(declared).strip().lower() if declared else None
    if not served.locations and not inspection.shape_errors:
        # Named, but loaded from no place the gate saw: the images are taken to carry the
        # model (baked in); an object without images loads it from somewhere unknown.
        served.locations = locations.presumed_images(obj, row) or [_nowhere(ref)]
    # The first comparable location, kept for the decision log and older inputs; the
    # policy compares every one of `locations`.
    model.storage_uri = next((loc.value for loc in inspection.locations if loc.kind == "uri"), None)
    served.models.append(model)
    return served
