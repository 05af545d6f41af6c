"""Publish an evidence bundle folder to an MLflow model version (docs/mlflow.md).

The inverse of the MLflow source: what `publish_bundle` writes, `MlflowEvidenceSource`
reads back as the same bundle, since both map fields through convention.py. The registry stays the authority for what it already
knows (the version's storage location, its source run and that run's code commit):
publishing never overwrites those, it refuses a bundle that names another artifact
location and notes any other disagreement.

Writes: model version tags `gatekeeper.*` (stale ones removed), run metrics
`performance.*` / `fairness.*.*`, run dataset inputs, and files under the run's
`gatekeeper/` artifact folder. Needs an account that may write to the model and run.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from gatekeeper.evidence.files import add_statement_files
from gatekeeper.evidence.mlflow.client import MlflowHttpError, MlflowRest
from gatekeeper.evidence.mlflow.convention import (
    EVIDENCE_FOLDER,
    GIT_COMMIT_TAG,
    MODEL_CARD_FILE,
    BLOCK_FILES,
    REVISION_TAG,
    TAG_PREFIX,
    bundle_metrics,
    bundle_tags,
    dataset_input,
    lineage,
    no_source_run,
)
from gatekeeper.evidence.mlflow.registry import RegistryVersion, read_version
from gatekeeper.evidence.source import EvidenceError
from gatekeeper.types.bundle import BundleFileError, EvidenceBundle, bundle_path, read_bundle_yaml, validate_bundle
from gatekeeper.types.canonical import SPACED, sha256_digest


class PublishError(Exception):
    """The bundle cannot be published as asked; the message says why and what to do."""


@dataclass
class Published:
    model: str
    version: str
    run_id: str
    tags: dict[str, str] = field(default_factory=dict)
    removed_tags: list[str] = field(default_factory=list)
    run_tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class LocalBundle:
    bundle: EvidenceBundle
    folder: Path
    path: Path


def read_bundle(bundle_dir: str | Path) -> LocalBundle:
    """A bundle folder (or its evidence.yaml), validated against the strict schema."""
    path = bundle_path(bundle_dir)
    try:
        raw = read_bundle_yaml(path)
        add_statement_files(raw, path.parent)  # signoffs/ and waivers/ count unlisted, as the file source reads them
        bundle = validate_bundle(raw, path)
    except BundleFileError as exc:
        raise PublishError(str(exc)) from None
    return LocalBundle(bundle=bundle, folder=path.parent, path=path)


def publish_bundle(
    bundle_dir: str | Path, url: str, *, model: str | None = None, version: str | None = None,
    timeout: float = 30.0, env: Mapping[str, str] | None = None,
) -> Published:
    """Publish BUNDLE_DIR to MLflow model MODEL version VERSION (default: the bundle's own)."""
    return asyncio.run(publish_bundle_async(bundle_dir, url, model=model, version=version, timeout=timeout, env=env))


async def publish_bundle_async(
    bundle_dir: str | Path, url: str, *, model: str | None = None, version: str | None = None,
    timeout: float = 30.0, env: Mapping[str, str] | None = None,
) -> Published:
    local = read_bundle(bundle_dir)
    bundle = local.bundle
    model = model or bundle.model
    version = str(version or bundle.version)
    if (bundle.model, bundle.version) != (model, version):
        raise PublishError(f"{local.path} describes {bundle.model} version {bundle.version}, not {model} version "
                           f"{version}; fix model/version in the bundle (its sign-offs name them too)")
    files, notes = _files_to_upload(local)
    client = MlflowRest(url, timeout=timeout, source="mlflow", env=env)
    try:
        async with client:
            result = await _publish(client, local, files)
            result.notes[:0] = notes
            return result
    except EvidenceError as exc:  # the registry is down, refused us, or has no such version
        raise PublishError(exc.message) from None
    except MlflowHttpError as exc:
        raise PublishError(f"MLflow at {client.url} refused the update: {exc.message}") from None


async def _publish(client: MlflowRest, local: LocalBundle, files: dict[str, bytes]) -> Published:
    bundle = local.bundle
    try:
        registry = await read_version(client, bundle.model, bundle.version)
    except EvidenceError as exc:
        if exc.kind == "missing":
            raise PublishError(f"{exc.message}; register the model version first (mlflow.register_model), "
                               "then publish its evidence") from None
        raise
    run_id = registry.run_id
    if not run_id or registry.run is None:
        raise PublishError(no_source_run(bundle.model, bundle.version, str(registry.version.get("source") or "")))
    result = Published(model=bundle.model, version=bundle.version, run_id=run_id)
    _check_artifact(bundle, registry)
    _note_lineage(bundle, registry, result)

    if files:
        await _upload(client, registry, files)
    metrics = bundle_metrics(bundle)
    if metrics:
        now = int(time.time() * 1000)
        await client.post("runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": k, "value": v, "timestamp": now, "step": 0} for k, v in metrics.items()]})
    result.metrics = metrics

    commit = bundle.lineage.code_commit if bundle.lineage else None
    run_tags = {t.get("key") for t in registry.run_tags()}
    if commit and GIT_COMMIT_TAG not in run_tags:
        await client.post("runs/set-tag", {"run_id": run_id, "key": GIT_COMMIT_TAG, "value": commit})
        result.run_tags[GIT_COMMIT_TAG] = commit

    datasets = _new_datasets(bundle, registry)
    if datasets:
        await client.post("runs/log-inputs", {"run_id": run_id, "datasets": datasets})
    result.datasets = [d["dataset"]["name"] for d in datasets]

    # Version tags last: they change the version's revision, which tells a gate to read the
    # evidence again, so everything else must already be in place.
    tags = bundle_tags(bundle)
    tags[TAG_PREFIX + REVISION_TAG] = publication_digest(tags, metrics, files)
    existing = {t["key"] for t in registry.version.get("tags") or [] if str(t.get("key", "")).startswith(TAG_PREFIX)}
    stale = sorted(existing - set(tags))
    await asyncio.gather(
        *(client.post("model-versions/set-tag", {"name": bundle.model, "version": bundle.version, "key": k, "value": v})
          for k, v in tags.items()),
        *(client.delete("model-versions/delete-tag", {"name": bundle.model, "version": bundle.version, "key": k})
          for k in stale),
    )
    result.tags, result.removed_tags = tags, stale

    result.files = sorted(files)
    return result


def publication_digest(tags: dict[str, str], metrics: dict[str, float], files: dict[str, bytes]) -> str:
    # Spaced separators: registries already hold tags computed this way, and the same
    # publication must keep its value (a new value makes every gate read the version again).
    return sha256_digest({"tags": tags, "metrics": metrics}, files=files, separators=SPACED)


def _check_artifact(bundle: EvidenceBundle, registry: RegistryVersion) -> None:
    claimed = bundle.artifact.uri if bundle.artifact else None
    registered = registry.storage_location()
    if claimed and registered and claimed.rstrip("/") != registered.rstrip("/"):
        raise PublishError(
            f"the bundle names artifact {claimed} but MLflow stores {bundle.model} version {bundle.version} at "
            f"{registered}; the registry is the authority on where the model is (fix artifact.uri, or publish to "
            "the version registered from that artifact)")


def _note_lineage(bundle: EvidenceBundle, registry: RegistryVersion, result: Published) -> None:
    claimed = bundle.lineage
    if claimed is None:
        return
    if claimed.run_id and claimed.run_id != registry.run_id:
        result.notes.append(f"lineage.run_id {claimed.run_id} is not kept: MLflow records run {registry.run_id} as "
                            "the version's source run")
    run_tags = {t.get("key"): t.get("value") for t in registry.run_tags()}
    recorded = run_tags.get(GIT_COMMIT_TAG)
    if claimed.code_commit and recorded and recorded != claimed.code_commit:
        result.notes.append(f"lineage.code_commit {claimed.code_commit} is not kept: run {registry.run_id} records "
                            f"commit {recorded}")


def _new_datasets(bundle: EvidenceBundle, registry: RegistryVersion) -> list[dict[str, Any]]:
    if not bundle.lineage or not bundle.lineage.datasets:
        return []
    recorded = lineage(registry).get("datasets") or []
    have = {(d.get("name"), d.get("digest"), d.get("context")) for d in recorded}
    return [dataset_input(d.name, d.digest, d.context) for d in bundle.lineage.datasets
            if (d.name, d.digest, d.context) not in have]


def _files_to_upload(local: LocalBundle) -> tuple[dict[str, bytes], list[str]]:
    """Evidence-folder path -> content, and notes. A missing model card or report is published
    as missing (its path kept, so the policy reports it the same way); a missing signed
    statement cannot be represented in MLflow and is refused."""
    bundle = local.bundle
    files: dict[str, bytes] = {}
    notes: list[str] = []
    missing: list[str] = []

    def take(rel: str, required: bool) -> None:
        clean = PurePosixPath(rel)
        target = (local.folder / rel).resolve()
        if clean.is_absolute() or ".." in clean.parts or not target.is_relative_to(local.folder.resolve()):
            raise PublishError(f"{local.path}: {rel} is outside the bundle folder; evidence travels with its version")
        try:
            files[str(clean)] = target.read_bytes()
        except OSError:
            if required:
                missing.append(rel)
            else:
                notes.append(f"{rel} does not exist next to {local.path}: published as missing")

    card = bundle.model_card
    if card and card.path and card.sections:
        raise PublishError(f"{local.path}: model_card has both path and sections; publish one of them (move the "
                           "sections into the Markdown file)")
    if card and card.path:
        take(card.path, required=False)
    elif card and card.sections:
        files[MODEL_CARD_FILE] = render_model_card(card.sections).encode()
        notes.append(f"model_card.sections published as {EVIDENCE_FOLDER}/{MODEL_CARD_FILE}")
    report = bundle.explainability.report if bundle.explainability else None
    if report and "://" not in report:
        take(report, required=False)
    dumped = bundle.model_dump(exclude_none=True)
    for name, (field, _) in BLOCK_FILES.items():  # pii_scan, data_quality, drift, fairness: one JSON file each
        if dumped.get(field) is not None:
            files[name] = (json.dumps(dumped[field], indent=2) + "\n").encode()
    for folder, paths in (("signoffs", bundle.signoffs), ("waivers", bundle.waivers)):
        for rel in paths:
            parts = PurePosixPath(rel).parts
            if len(parts) != 2 or parts[0] != folder or not rel.endswith(".json"):
                raise PublishError(f"{local.path}: {rel}: {folder} must be JSON files directly in {folder}/ "
                                   f"(e.g. {folder}/{PurePosixPath(rel).stem}.json), which is where the MLflow "
                                   "source looks for them")
            take(rel, required=True)
    if missing:
        raise PublishError(f"{local.path} refers to signed statements that do not exist next to it: "
                           f"{', '.join(missing)}")
    return files, notes


def render_model_card(sections: dict[str, str]) -> str:
    """Inline model card sections as Markdown whose headings map back to the same names."""
    lines = ["# Model card", ""]
    for name, text in sections.items():
        lines += [f"## {name}", "", text.strip(), ""]
    return "\n".join(lines)


async def _upload(client: MlflowRest, registry: RegistryVersion, files: dict[str, bytes]) -> None:
    root = ((registry.run or {}).get("info") or {}).get("artifact_uri") or ""
    proxied = _proxied_path(root)
    if proxied is not None:
        await asyncio.gather(*(client.put_artifact(f"{proxied}/{EVIDENCE_FOLDER}/{rel}", content)
                               for rel, content in files.items()))
        return
    await asyncio.to_thread(_upload_with_mlflow, client.url, registry.run_id or "", files)


def _proxied_path(root: str) -> str | None:
    """The artifact-proxy path of a run's artifact root, or None when the server does not proxy it."""
    parsed = urlparse(root)
    if parsed.scheme == "mlflow-artifacts":
        return parsed.path.strip("/")
    marker = "/api/2.0/mlflow-artifacts/artifacts/"
    if parsed.scheme in ("http", "https") and marker in parsed.path:
        return parsed.path.split(marker, 1)[1].strip("/")
    return None


def _upload_with_mlflow(url: str, run_id: str, files: dict[str, bytes]) -> None:
    """Artifacts stored outside the tracking server (s3://, gs://, ...): the MLflow client writes them."""
    try:
        from mlflow import MlflowClient  # optional: only for artifact stores the server does not proxy
    except ImportError:
        raise PublishError(
            f"run {run_id} stores artifacts outside the tracking server; install the MLflow client "
            "(pip install 'model-gatekeeper[mlflow]') or run the server with --serve-artifacts") from None
    client = MlflowClient(tracking_uri=url)
    with tempfile.TemporaryDirectory() as tmp:
        for rel, content in files.items():
            target = Path(tmp) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            client.log_artifacts(run_id, tmp, EVIDENCE_FOLDER)
        except Exception as exc:  # the client's many storage backends raise their own errors
            raise PublishError(f"uploading to run {run_id} failed: {exc}") from None


@dataclass
class Initialised:
    """What `evidence init --mlflow` tagged, and what the registry already knows of the version."""

    tags: dict[str, str]
    run_id: str
    artifact_uri: str | None


def init_version(url: str, model: str, version: str, tags: dict[str, str], *, timeout: float = 30.0,
                 env: Mapping[str, str] | None = None) -> Initialised:
    """Set the bundle's first fields as `gatekeeper.*` tags on a registered version that has a source run."""

    async def run() -> Initialised:
        client = MlflowRest(url, timeout=timeout, source="mlflow", env=env)
        async with client:
            registry = await read_version(client, model, version)
            if not registry.run_id:
                raise PublishError(no_source_run(model, version, str(registry.version.get("source") or "")))
            await asyncio.gather(*(client.post("model-versions/set-tag", {"name": model, "version": version,
                                                                          "key": TAG_PREFIX + k, "value": v})
                                   for k, v in tags.items()))
            return Initialised(tags={TAG_PREFIX + k: v for k, v in tags.items()}, run_id=registry.run_id,
                               artifact_uri=registry.storage_location())

    try:
        return asyncio.run(run())
    except EvidenceError as exc:
        raise PublishError(exc.message) from None
    except MlflowHttpError as exc:
        raise PublishError(f"MLflow at {url.rstrip('/')} refused the update: {exc.message}") from None
