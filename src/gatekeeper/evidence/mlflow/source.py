"""The MLflow evidence source: an EvidenceBundle assembled from the model registry.

One registered model version is read through MLflow's REST API (3.x) and turned into
the same EvidenceBundle the file source yields (README.md, "Evidence bundle"), following the
convention of docs/mlflow.md (convention.py). The registry requests are registry.py's,
sent by one long-lived client (client.py) that `close()` ends.

Every request is bounded by the source timeout; a registry that is down, slow or refuses
the credentials raises SourceUnavailable (the policy reports `evidence.unavailable`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from gatekeeper.evidence.files import referenced_files
from gatekeeper.evidence.mlflow.client import MlflowRest
from gatekeeper.evidence.mlflow.convention import (
    EVIDENCE_FOLDER,
    BLOCK_FILES,
    STATEMENT_FOLDERS,
    artifact_path,
    assemble,
    has_evidence,
    merge_block,
    no_source_run,
    parse_block,
    raw_referenced_files,
    validate,
)
from gatekeeper.evidence.mlflow.registry import (
    RegistryVersion,
    get_alias,
    get_version,
    list_artifacts,
    nothing,
    read_related,
    version_revision,
)
from gatekeeper.evidence.source import EvidenceError, EvidenceSource, LoadedEvidence
from gatekeeper.types.decision import ModelRef
from gatekeeper.types.names import model_ref_problem


class MlflowEvidenceSource(EvidenceSource):
    """Evidence for `models:/name/version` and `models:/name@alias` from an MLflow registry.

    Holds one HTTP session, opened by the first lookup; `await source.close()` (or
    `async with`) ends it, on the event loop that used it.
    """

    name = "mlflow"
    # Aliases move: resolve them on every lookup (concurrent lookups still share one
    # request); the gate then checks the cached evidence against the version's revision.
    alias_ttl = 0.0
    # At most this many lookups at once (the gate queues the rest): a CI run over many models
    # must not pile hundreds of requests onto the registry.
    max_concurrency = 2

    def __init__(self, url: str, *, timeout: float = 1.0, env: Mapping[str, str] | None = None) -> None:
        self.client = MlflowRest(url, timeout=timeout, source="mlflow", env=env)
        self._revisions: dict[tuple[str, str], str] = {}

    async def __aenter__(self) -> MlflowEvidenceSource:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.client.close()

    @property
    def url(self) -> str:
        return self.client.url

    def revision_hint(self, model: ModelRef) -> str | None:
        """The newest revision of this version the registry has shown us (alias lookups see it first)."""
        return self._revisions.get((model.name, str(model.version)))

    def _note(self, name: str, version: str, revision: str) -> None:
        if len(self._revisions) >= 10_000:
            self._revisions.clear()
        self._revisions[(name, version)] = revision

    async def resolve(self, model: ModelRef) -> ModelRef:
        _refuse_unplain(model)
        if model.version is not None:
            return model
        mv = await get_alias(self.client, model.name, str(model.alias))
        version = str(mv.get("version") or "")
        if not version:
            raise EvidenceError("unreadable", f"MLflow at {self.url} answered alias '{model.alias}' of "
                                              f"'{model.name}' without a version")
        self._note(model.name, version, version_revision(mv))
        return model.model_copy(update={"version": version})

    async def load(self, model: ModelRef) -> LoadedEvidence:
        _refuse_unplain(model)
        name, version = model.name, str(model.version)
        registry, listing = await self._registry_and_listing(name, version)
        revision = version_revision(registry.version)
        self._note(name, version, revision)
        if not registry.run_id:
            # Every measured result lives in the run (metrics, gatekeeper/ artifacts, datasets, commit):
            # one clear reason instead of a violation per missing piece.
            raise EvidenceError("missing", no_source_run(name, version, str(registry.version.get("source") or "")))
        location = f"{self.url} models:/{name}/{version}" + (f" (run {registry.run_id})" if registry.run_id else "")
        raw, origins = assemble(registry, listing)
        paths = raw_referenced_files(raw)
        wanted = [*paths, *(file for file in BLOCK_FILES if file in listing)]
        # Every file in one round of concurrent requests.
        contents = dict(zip(wanted, await asyncio.gather(*(self._file(registry.run_id, path) for path in wanted))))
        for file, (field, schema) in BLOCK_FILES.items():  # pii_scan, data_quality, drift, fairness
            content = contents.get(file) if file in listing else None
            if content is not None:
                parsed = parse_block(content, schema, f"{location}: artifact {EVIDENCE_FOLDER}/{file}", field)
                raw[field] = merge_block(parsed, raw.get(field))
                origins[field] = f"artifact {EVIDENCE_FOLDER}/{file}"
        if not has_evidence(raw, listing, registry):
            raise EvidenceError(
                "missing",
                f"MLflow has no gatekeeper evidence for {name} version {version} (no gatekeeper.* tags, no "
                f"'{EVIDENCE_FOLDER}/' artifacts in the source run, no performance.*/fairness.* metrics; "
                "see docs/mlflow.md)",
            )
        bundle = validate(raw, origins, location)
        files = {path: contents.get(path) for path in referenced_files(bundle)}
        return LoadedEvidence(bundle=bundle, files=files, location=location, revision=revision)

    async def _registry_and_listing(self, name: str, version: str) -> tuple[RegistryVersion, dict[str, int]]:
        mv = await get_version(self.client, name, version)
        run_id = mv.get("run_id") or None
        registry, listing = await asyncio.gather(
            read_related(self.client, mv),
            list_artifacts(self.client, run_id, EVIDENCE_FOLDER, STATEMENT_FOLDERS) if run_id else nothing())
        return registry, listing or {}

    async def _file(self, run_id: str | None, path: str) -> bytes | None:
        where = artifact_path(path)
        if not run_id or where is None:
            return None
        return await self.client.artifact(run_id, where)


def _refuse_unplain(model: ModelRef) -> None:
    """The check every evidence source shares: plain names only, nothing asked for otherwise."""
    problem = model_ref_problem(model.name, model.version, model.alias)
    if problem:
        raise EvidenceError("missing", f"{model.ref}: {problem}; no evidence is read for it")
