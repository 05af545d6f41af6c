"""A policy revision as an OPA bundle, and the revision digest of what OPA loaded.

The policy revision every decision names is sha256 over the Rego modules OPA loaded (by
their path relative to the modules' common folder, then their text) and the data
documents the compliance team owns (POLICY_DATA). `revision_digest` is that one
computation; `build` writes the same modules and documents as an OPA bundle (gzipped tar:
`.manifest`, the modules at their relative paths, one `data.json`), so `read` +
`revision_digest` of a stored bundle gives back the revision it is stored under, and OPA
started on it (`opa run --bundle`) reports that revision too.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from typing import Any

from gatekeeper.types.canonical import canonical_json, sha256_of

# The data documents the compliance team owns; part of the policy revision.
POLICY_DATA = ("gatekeeper/matrix", "gatekeeper/signers", "gatekeeper/serving", "gatekeeper/classification",
               "gatekeeper/regulations")
MANIFEST = ".manifest"
DATA_FILE = "data.json"


class BundleError(ValueError):
    """A stored bundle that is not one `build` wrote (unreadable, or without its parts)."""


def relative_names(modules: dict[str, str]) -> dict[str, str]:
    """Module id (the path OPA loaded it from) -> its path relative to the modules' common
    folder, so the same policies loaded from two places agree."""
    root = os.path.commonpath(list(modules)) if len(modules) > 1 else ""
    return {module_id: os.path.relpath(module_id, root) if root else module_id for module_id in modules}


def revision_digest(modules: dict[str, str], data: dict[str, Any]) -> str:
    """sha256 over the modules (id -> text) and the POLICY_DATA documents (path -> value,
    absent = undefined)."""
    names = relative_names(modules)
    chunks = [f"{names[module_id]}\0{modules[module_id]}\0".encode() for module_id in sorted(modules)]
    chunks.extend(canonical_json(data.get(path)) for path in POLICY_DATA)
    return sha256_of(*chunks)


def build(modules: dict[str, str], data: dict[str, Any]) -> bytes:
    """The OPA bundle of these modules and documents, byte-for-byte the same for the same
    inputs (sorted members, no times, no owners), with the revision in its manifest."""
    names = relative_names(modules)
    tree: dict[str, Any] = {}
    for path in POLICY_DATA:
        if data.get(path) is not None:
            _put(tree, path.split("/"), data[path])
    files = {names[module_id]: text.encode() for module_id, text in modules.items()}
    files[DATA_FILE] = canonical_json(tree)
    manifest = {"revision": revision_digest(modules, data), "rego_version": 1}
    files[MANIFEST] = canonical_json(manifest)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            tar.addfile(info, io.BytesIO(files[name]))
    return gzip.compress(raw.getvalue(), mtime=0)


def read(bundle: bytes) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """The modules (bundle path -> text), POLICY_DATA documents and manifest of a bundle."""
    modules: dict[str, str] = {}
    tree: Any = {}
    manifest: Any = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                content = tar.extractfile(member).read()  # type: ignore[union-attr]
                if member.name == DATA_FILE:
                    tree = json.loads(content)
                elif member.name == MANIFEST:
                    manifest = json.loads(content)
                elif member.name.endswith(".rego"):
                    modules[member.name] = content.decode()
    except (OSError, EOFError, tarfile.TarError, UnicodeDecodeError, ValueError) as exc:
        raise BundleError(f"not a readable OPA bundle ({type(exc).__name__}: {exc})") from None
    if not modules or not isinstance(tree, dict) or not isinstance(manifest, dict):
        raise BundleError("not a policy bundle (no modules, or data.json/.manifest not JSON objects)")
    data = {path: value for path in POLICY_DATA if (value := _get(tree, path.split("/"))) is not None}
    return modules, data, manifest


def digest_of(bundle: bytes) -> str:
    """The policy revision a bundle holds, recomputed from its modules and data."""
    modules, data, _ = read(bundle)
    return revision_digest(modules, data)


def _put(tree: dict[str, Any], keys: list[str], value: Any) -> None:
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def _get(tree: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree
