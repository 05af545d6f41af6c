"""Evidence sections and their digests: what a sign-off says its signer reviewed.

A section is one top-level field of the evidence bundle (fairness, lineage, artifact, ...)
with the files it refers to (the model card, the explainability report). A sign-off carries
the digest of each section its role reviews (the matrix's `signoff_roles`); the policy
compares them with the digests of the evidence as it is now, so an edit after signing voids
the sign-off and the message names the section. The identity fields (apiVersion, kind,
model, version) are bound by the statement's subject, and the statements themselves
(signoffs, waivers) are not evidence a signer reviews.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gatekeeper.types.bundle import EvidenceBundle
from gatekeeper.types.canonical import sha256_digest

_NOT_SECTIONS = {"api_version", "kind", "model", "version", "signoffs", "waivers"}

# Every section of the schema, in schema order; absent ones have a digest too (of null),
# so a section added after signing changes what was signed.
SECTIONS: tuple[str, ...] = tuple(name for name in EvidenceBundle.model_fields if name not in _NOT_SECTIONS)


def section_files(name: str, value: Any) -> list[str]:
    """The files (paths as the bundle writes them) section `name` refers to; a URI is not a file."""
    if not isinstance(value, dict):
        return []
    path = {"model_card": "path", "explainability": "report"}.get(name)
    target = value.get(path) if path else None
    return [target] if isinstance(target, str) and "://" not in target else []


def section_digests(bundle: EvidenceBundle, files: Mapping[str, bytes | None]) -> dict[str, str]:
    """`sha256:<hex>` of every section: canonical JSON of its value (null when absent) and
    the content of the files it refers to (types.canonical.sha256_digest)."""
    evidence = bundle.model_dump(mode="json", by_alias=True, exclude_none=True)
    digests = {}
    for name in SECTIONS:
        value = _pruned(evidence.get(name))
        digests[name] = sha256_digest(value, files={path: files.get(path) for path in section_files(name, value)})
    return digests


def _pruned(value: Any) -> Any:
    """value without empty maps and lists, None when nothing is left: every source spells "no
    metrics" its own way ({metrics: {}} in a file, no tag at all in MLflow), and they must agree."""
    if isinstance(value, dict):
        kept = {key: item for key, item in ((k, _pruned(v)) for k, v in value.items()) if item is not None}
        return kept or None
    if isinstance(value, list):
        kept_items = [item for item in (_pruned(v) for v in value) if item is not None]
        return kept_items or None
    return value


def review(bundle: EvidenceBundle, files: Mapping[str, bytes | None], sections: Iterable[str]) -> dict[str, Any]:
    """What a sign-off states its signer reviewed: the artifact location and the digest of
    each of `sections` (the sign-off predicate's `reviewed`)."""
    digests = section_digests(bundle, files)
    return {"artifact_uri": bundle.artifact.uri if bundle.artifact else None,
            "sections": {name: digests[name] for name in sections}}


def reviewed_sections(settings: dict[str, Any]) -> list[str]:
    """The sections a role reviews, from its matrix settings as the policy resolved them
    (`reviews`: the sections; else every section but `reviews_all_but`)."""
    if isinstance(settings.get("reviews"), list):
        return [name for name in settings["reviews"] if name in SECTIONS]
    excluded = set(settings.get("reviews_all_but") or [])
    return [name for name in SECTIONS if name not in excluded]
