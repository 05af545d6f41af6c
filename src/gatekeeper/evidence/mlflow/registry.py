"""Registry reads: a model version, an alias, the version's run, logged model and artifacts.

What MLflow records, as it records it (REST 3.x). What those records mean as evidence is
the convention's business (convention.py); this module only knows the registry: which
request answers what, how a missing thing is reported, and where a version's files are.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from gatekeeper.evidence.mlflow.client import MlflowHttpError, MlflowRest
from gatekeeper.evidence.source import EvidenceError
from gatekeeper.types.canonical import sha256_digest

_LOGGED_MODEL_SOURCE = re.compile(r"^models:/(m-[0-9a-f]+)/?$")
_RUN_SOURCE = re.compile(r"^runs:/([0-9a-f]+)(?:/(.*))?$")


@dataclass
class RegistryVersion:
    """What the registry says about one model version, the source run and logged model."""

    version: dict[str, Any]
    registered: dict[str, Any]
    run: dict[str, Any] | None
    logged: dict[str, Any] | None

    @property
    def run_id(self) -> str | None:
        return self.version.get("run_id") or None

    def storage_location(self) -> str | None:
        """Where the version's files are: `source`, with models:/m-… and runs:/… resolved."""
        source = self.version.get("source") or None
        if not source:
            return None
        if _LOGGED_MODEL_SOURCE.match(source) and self.logged:
            return self.logged.get("info", {}).get("artifact_uri") or source
        match = _RUN_SOURCE.match(source)
        if match and self.run and match[1] == self.run_id:
            root = self.run.get("info", {}).get("artifact_uri") or ""
            return f"{root.rstrip('/')}/{match[2]}" if match[2] else root or source
        return source

    def run_tags(self) -> list[dict[str, Any]]:
        return ((self.run or {}).get("data") or {}).get("tags") or []

    def logged_model_tags(self) -> list[dict[str, Any]]:
        return ((self.logged or {}).get("info") or {}).get("tags") or []


def logged_model_id(version: dict[str, Any]) -> str | None:
    if version.get("model_id"):
        return str(version["model_id"])
    match = _LOGGED_MODEL_SOURCE.match(version.get("source") or "")
    return match[1] if match else None


def version_revision(version: dict[str, Any]) -> str:
    """A marker that changes whenever the registry changes the version (tags included).

    MLflow does not bump `last_updated_timestamp` when a tag is set, so the tags are
    part of the marker; aliases are not (an alias moving changes another version).
    The marker only lives in the gate's memory, never in a record.
    """
    marker = {key: version.get(key) for key in ("name", "version", "source", "run_id", "status",
                                                 "last_updated_timestamp", "current_stage")}
    marker["tags"] = sorted((t.get("key"), t.get("value")) for t in version.get("tags") or [])
    return sha256_digest(marker)


async def read_version(client: MlflowRest, name: str, version: str) -> RegistryVersion:
    """The version, its registered model, source run and logged model."""
    mv = await get_version(client, name, version)
    return await read_related(client, mv)


async def get_version(client: MlflowRest, name: str, version: str) -> dict[str, Any]:
    return await _model_version(client, "model-versions/get", f"has no version {version} of model '{name}'",
                                name=name, version=version)


async def get_alias(client: MlflowRest, name: str, alias: str) -> dict[str, Any]:
    """The version an alias points at (with its tags), as the registry answers it."""
    return await _model_version(client, "registered-models/alias", f"has no alias '{alias}' for model '{name}'",
                                name=name, alias=alias)


async def _model_version(client: MlflowRest, endpoint: str, missing: str, **params: str) -> dict[str, Any]:
    """The model version an endpoint answers with; `missing` says what the registry lacks when it has none."""
    try:
        answer = await client.get(endpoint, **params)
    except MlflowHttpError as exc:
        if exc.not_found:
            raise EvidenceError("missing", f"MLflow at {client.url} {missing} ({exc.message})") from None
        raise EvidenceError("unreadable", f"MLflow at {client.url}: {exc.message}") from None
    return answer.get("model_version") or {}


async def read_related(client: MlflowRest, mv: dict[str, Any]) -> RegistryVersion:
    """A version's registered model, source run and logged model (one round of requests)."""
    name, version = str(mv.get("name")), str(mv.get("version"))
    run_id, model_id = mv.get("run_id") or None, logged_model_id(mv)

    async def optional(endpoint: str, what: str, **params: str) -> dict[str, Any] | None:
        try:
            return await client.get(endpoint, **params)
        except MlflowHttpError as exc:
            if exc.not_found:
                raise EvidenceError("unreadable", f"{what} of {name} version {version} cannot be read: "
                                                  f"{exc.message}") from None
            raise EvidenceError("unreadable", f"MLflow at {client.url}: {exc.message}") from None

    registered, run, logged = await asyncio.gather(
        optional("registered-models/get", "registered model", name=name),
        optional("runs/get", f"source run {run_id}", run_id=run_id) if run_id else nothing(),
        optional(f"logged-models/{model_id}", f"logged model {model_id}") if model_id else nothing(),
    )
    return RegistryVersion(
        version=mv,
        registered=(registered or {}).get("registered_model") or {},
        run=(run or {}).get("run"),
        logged=(logged or {}).get("model"),
    )


async def list_artifacts(client: MlflowRest, run_id: str, folder: str, subfolders: tuple[str, ...]) -> dict[str, int]:
    """Files of one artifact folder of a run (its top level and the named subfolders):
    path relative to the folder -> size. A folder that does not exist lists nothing."""

    async def one(path: str) -> list[dict[str, Any]]:
        try:
            answer = await client.get("artifacts/list", run_id=run_id, path=path)
        except MlflowHttpError as exc:
            if exc.not_found:
                return []
            raise EvidenceError("unreadable", f"run {run_id} artifacts cannot be listed: {exc.message}") from None
        return answer.get("files") or []

    prefix = folder + "/"
    top = await one(folder)
    wanted = {f"{prefix}{sub}" for sub in subfolders}
    nested = [entry["path"] for entry in top if entry.get("is_dir") and entry.get("path") in wanted]
    listed = [top, *await asyncio.gather(*(one(path) for path in sorted(nested)))]
    return {
        entry["path"][len(prefix):]: int(entry.get("file_size") or 0)
        for entries in listed for entry in entries
        if not entry.get("is_dir") and str(entry.get("path", "")).startswith(prefix)
    }


async def nothing() -> Any:
    """An awaitable None, for a request that is not needed in an asyncio.gather."""
    return None
