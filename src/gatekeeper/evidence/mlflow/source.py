"""The MLflow evidence source: an EvidenceBundle assembled from the model registry.

One registered model version is read through MLflow's REST API (3.x) and turned into
the same EvidenceBundle the file source yields (DESIGN §4). The convention a data
scientist follows is docs/mlflow.md; in short:

- the registry gives `model`, `version`, `artifact.uri` (the version's storage location)
  and `lineage.run_id` (the version's source run);
- tags `gatekeeper.<field>` give scalar fields (risk_class, owner, artifact.digest, ...),
  looked up on the model version, then its logged model, its run, the registered model;
- metrics `performance.<name>` and `fairness.<attribute>.<metric>` on the run or the
  logged model give the measurements;
- the run's tag `mlflow.source.git.commit` and its dataset inputs give the lineage;
- the run's artifact folder `gatekeeper/` holds the files: `model-card.md`,
  `pii-scan.json`, `data-quality.json`, `drift.json`, the explainability report,
  `signoffs/*.json`, `waivers/*.json`.

Every request is bounded by the source timeout; a registry that is down, slow or refuses
the credentials raises SourceUnavailable (the policy reports `evidence.unavailable`).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import os
import re
import ssl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from posixpath import normpath
from typing import Any

import aiohttp
from pydantic import ValidationError

from gatekeeper.types.decision import ModelRef
from gatekeeper.types.bundle import (
    API_VERSION,
    KIND,
    DataQuality,
    Drift,
    EvidenceBundle,
    PiiScan,
    describe_validation_error,
)
from gatekeeper.evidence.files import referenced_files
from gatekeeper.evidence.source import EvidenceError, LoadedEvidence, SourceUnavailable

TAG_PREFIX = "gatekeeper."
EVIDENCE_FOLDER = "gatekeeper"
MODEL_CARD_FILE = "model-card.md"
PII_SCAN_FILE = "pii-scan.json"
# Measured blocks published as JSON files in the evidence folder: file -> (bundle field, schema).
BLOCK_FILES: dict[str, tuple[str, type]] = {
    PII_SCAN_FILE: ("pii_scan", PiiScan),
    "data-quality.json": ("data_quality", DataQuality),
    "drift.json": ("drift", Drift),
}
STATEMENT_FOLDERS = ("signoffs", "waivers")
DATASET_DIGEST_TAG = "gatekeeper.digest"
DATASET_CONTEXT_TAG = "mlflow.data.context"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
MAX_FILE_BYTES = 8 * 1024 * 1024

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
RISK_ORDER = ("minimal", "limited", "high", "prohibited")
_LOGGED_MODEL_SOURCE = re.compile(r"^models:/(m-[0-9a-f]+)/?$")
_RUN_SOURCE = re.compile(r"^runs:/([0-9a-f]+)(?:/(.*))?$")


class MlflowHttpError(Exception):
    """A non-success answer that is about the request (not the server being down)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def not_found(self) -> bool:
        # MLflow answers 404 for an unknown version, 400 for an unknown alias or a
        # version that is not a number: for a lookup, all mean "no such thing".
        return self.status in (400, 404)


def auth_from_env(env: Mapping[str, str] | None = None) -> tuple[dict[str, str], aiohttp.BasicAuth | None]:
    """Registry credentials as the MLflow client reads them (token, or user and password)."""
    env = os.environ if env is None else env
    token = env.get("MLFLOW_TRACKING_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}, None
    user, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
    if user:
        return {}, aiohttp.BasicAuth(user, password or "")
    return {}, None


def _tls_from_env(env: Mapping[str, str]) -> ssl.SSLContext | bool | None:
    if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true", "yes"):
        return False
    cafile = env.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    if cafile:
        return ssl.create_default_context(cafile=cafile)
    return None


class MlflowRest:
    """A small async client for the MLflow REST API, shared by the source and `publish`."""

    def __init__(self, url: str, *, timeout: float, source: str = "mlflow", env: Mapping[str, str] | None = None) -> None:
        if not re.match(r"^https?://", url):
            raise ValueError(f"MLflow URL must start with http:// or https://, got '{url}'")
        env = os.environ if env is None else env
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.source = source
        self.headers, self.auth = auth_from_env(env)
        self.ssl = _tls_from_env(env)
        self._session: aiohttp.ClientSession | None = None

    @asynccontextmanager
    async def open(self) -> AsyncIterator[MlflowRest]:
        """A session for one unit of work (one load, one publish): no connection outlives it."""
        connector = aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True)
        async with aiohttp.ClientSession(
            connector=connector, headers=self.headers, auth=self.auth,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        ) as session:
            bound = copy.copy(self)  # concurrent units of work each get their own session
            bound._session = session
            yield bound

    async def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        return await self._json("GET", f"{self.url}/api/2.0/mlflow/{endpoint}", params=params)

    async def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", f"{self.url}/api/2.0/mlflow/{endpoint}", json=body)

    async def delete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("DELETE", f"{self.url}/api/2.0/mlflow/{endpoint}", json=body)

    async def artifact(self, run_id: str, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """One run artifact's content, or None when it does not exist."""
        assert self._session is not None
        try:
            async with self._session.get(f"{self.url}/get-artifact", params={"run_uuid": run_id, "path": path}) as answer:
                if answer.status == 404:
                    return None
                await self._check(answer)
                content = await answer.content.read(limit + 1)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        if len(content) > limit:
            raise EvidenceError("unreadable", f"run {run_id} artifact {path} is larger than {limit} bytes")
        return content

    async def put_artifact(self, artifact_path: str, content: bytes) -> None:
        """Upload through the tracking server's artifact proxy (`mlflow-artifacts:/...`)."""
        assert self._session is not None
        try:
            async with self._session.put(f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{artifact_path}",
                                         data=content) as answer:
                await self._check(answer)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unavailable(exc) from None

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        assert self._session is not None, "use `async with client.open()`"
        try:
            async with self._session.request(method, url, **kwargs) as answer:
                await self._check(answer)
                try:
                    return await answer.json(content_type=None) or {}
                except (ValueError, aiohttp.ContentTypeError):
                    raise SourceUnavailable(self.source, f"{self.url} answered {url} with something other than JSON "
                                                         "(is it an MLflow tracking server?)") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unavailable(exc) from None

    async def _check(self, answer: aiohttp.ClientResponse) -> None:
        if answer.status < 400:
            return
        text = (await answer.text())[:500]
        try:
            body = json.loads(text)
            code, message = str(body.get("error_code", "")), str(body.get("message", text))
        except (ValueError, AttributeError):
            code, message = "", text.strip() or answer.reason or ""
        if answer.status in (401, 403):
            raise SourceUnavailable(self.source, f"{self.url} refused the credentials (HTTP {answer.status}); set "
                                                 "MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD")
        if answer.status >= 500 or answer.status == 429:
            raise SourceUnavailable(self.source, f"{self.url} answered HTTP {answer.status}: {message}")
        raise MlflowHttpError(answer.status, code, message)

    def _unavailable(self, exc: BaseException) -> SourceUnavailable:
        if isinstance(exc, TimeoutError) or isinstance(exc, aiohttp.ServerTimeoutError):
            return SourceUnavailable(self.source, f"{self.url} did not answer within {self.timeout:g}s")
        if isinstance(exc, aiohttp.ClientConnectorError):
            reason = exc.os_error.strerror or str(exc.os_error) or type(exc).__name__
        else:
            reason = str(exc).strip() or type(exc).__name__
        return SourceUnavailable(self.source, f"cannot reach {self.url}: {reason}")


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


def logged_model_id(version: dict[str, Any]) -> str | None:
    if version.get("model_id"):
        return str(version["model_id"])
    match = _LOGGED_MODEL_SOURCE.match(version.get("source") or "")
    return match[1] if match else None


def version_revision(version: dict[str, Any]) -> str:
    """A marker that changes whenever the registry changes the version (tags included).

    MLflow does not bump `last_updated_timestamp` when a tag is set, so the tags are
    part of the marker; aliases are not (an alias moving changes another version).
    """
    marker = {key: version.get(key) for key in ("name", "version", "source", "run_id", "status",
                                                 "last_updated_timestamp", "current_stage")}
    marker["tags"] = sorted((t.get("key"), t.get("value")) for t in version.get("tags") or [])
    return "sha256:" + hashlib.sha256(json.dumps(marker, sort_keys=True).encode()).hexdigest()


async def read_version(client: MlflowRest, name: str, version: str) -> RegistryVersion:
    """The version, its registered model, source run and logged model."""
    mv = await get_version(client, name, version)
    return await read_related(client, mv)


async def get_version(client: MlflowRest, name: str, version: str) -> dict[str, Any]:
    try:
        answer = await client.get("model-versions/get", name=name, version=version)
    except MlflowHttpError as exc:
        if exc.not_found:
            raise EvidenceError("missing", f"MLflow at {client.url} has no version {version} of model '{name}' "
                                           f"({exc.message})") from None
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
        optional("runs/get", f"source run {run_id}", run_id=run_id) if run_id else _nothing(),
        optional(f"logged-models/{model_id}", f"logged model {model_id}") if model_id else _nothing(),
    )
    return RegistryVersion(
        version=mv,
        registered=(registered or {}).get("registered_model") or {},
        run=(run or {}).get("run"),
        logged=(logged or {}).get("model"),
    )


async def _nothing() -> Any:
    return None


class MlflowEvidenceSource:
    """Evidence for `models:/name/version` and `models:/name@alias` from an MLflow registry."""

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
        if model.version is not None:
            return model
        async with self.client.open() as client:
            try:
                answer = await client.get("registered-models/alias", name=model.name, alias=str(model.alias))
            except MlflowHttpError as exc:
                if exc.not_found:
                    raise EvidenceError("missing", f"MLflow at {client.url} has no alias '{model.alias}' for model "
                                                   f"'{model.name}' ({exc.message})") from None
                raise EvidenceError("unreadable", f"MLflow at {client.url}: {exc.message}") from None
        mv = answer.get("model_version") or {}
        version = str(mv.get("version") or "")
        if not version:
            raise EvidenceError("unreadable", f"MLflow at {self.url} answered alias '{model.alias}' of "
                                              f"'{model.name}' without a version")
        self._note(model.name, version, version_revision(mv))
        return model.model_copy(update={"version": version})

    async def load(self, model: ModelRef) -> LoadedEvidence:
        name, version = model.name, str(model.version)
        async with self.client.open() as client:
            registry, listing = await self._registry_and_listing(client, name, version)
            revision = version_revision(registry.version)
            self._note(name, version, revision)
            location = f"{self.url} models:/{name}/{version}" + (f" (run {registry.run_id})" if registry.run_id else "")
            raw, origins = assemble(registry, listing)
            paths = raw_referenced_files(raw)
            wanted = [*paths, *(name for name in BLOCK_FILES if name in listing)]
            # Every file in one round of concurrent requests.
            contents = dict(zip(wanted, await asyncio.gather(
                *(self._file(client, registry.run_id, path) for path in wanted))))
        for name, (field, schema) in BLOCK_FILES.items():
            content = contents.get(name) if name in listing else None
            if content is not None:
                raw[field] = parse_block(content, schema, f"{location}: artifact {EVIDENCE_FOLDER}/{name}")
                origins[field] = f"artifact {EVIDENCE_FOLDER}/{name}"
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

    async def _registry_and_listing(self, client: MlflowRest, name: str, version: str) -> tuple[RegistryVersion, dict[str, int]]:
        mv = await get_version(client, name, version)
        run_id = mv.get("run_id") or None
        registry, listing = await asyncio.gather(
            read_related(client, mv), list_evidence(client, run_id) if run_id else _nothing())
        return registry, listing or {}

    @staticmethod
    async def _file(client: MlflowRest, run_id: str | None, path: str) -> bytes | None:
        if not run_id or "://" in path or not _inside(path):
            return None
        return await client.artifact(run_id, f"{EVIDENCE_FOLDER}/{normpath(path)}")


async def list_evidence(client: MlflowRest, run_id: str) -> dict[str, int]:
    """Files of the run's evidence folder (top level and the statement folders): path -> size."""

    async def one(folder: str) -> list[dict[str, Any]]:
        try:
            answer = await client.get("artifacts/list", run_id=run_id, path=folder)
        except MlflowHttpError as exc:
            if exc.not_found:
                return []
            raise EvidenceError("unreadable", f"run {run_id} artifacts cannot be listed: {exc.message}") from None
        return answer.get("files") or []

    prefix = EVIDENCE_FOLDER + "/"
    top = await one(EVIDENCE_FOLDER)
    folders = {f"{prefix}{sub}" for sub in STATEMENT_FOLDERS}
    nested = [entry["path"] for entry in top if entry.get("is_dir") and entry.get("path") in folders]
    listed = [top, *await asyncio.gather(*(one(folder) for folder in sorted(nested)))]
    return {
        entry["path"][len(prefix):]: int(entry.get("file_size") or 0)
        for entries in listed for entry in entries
        if not entry.get("is_dir") and str(entry.get("path", "")).startswith(prefix)
    }


def assemble(registry: RegistryVersion, listing: dict[str, int]) -> tuple[dict[str, Any], dict[str, str]]:
    """The raw bundle (before validation) and, per field, where its value came from."""
    mv = registry.version
    raw: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND, "model": mv.get("name"),
                           "version": str(mv.get("version"))}
    origins: dict[str, str] = {}
    layers = [
        ("model version", mv.get("tags")),
        ("logged model", ((registry.logged or {}).get("info") or {}).get("tags")),
        ("run", ((registry.run or {}).get("data") or {}).get("tags")),
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
            if value not in RISK_ORDER:
                raise EvidenceError("unreadable", f"{mv.get('name')} version {mv.get('version')}: tag "
                                                  f"{TAG_PREFIX}risk_class on the {layer} is '{value}', not one of "
                                                  f"{', '.join(RISK_ORDER)}")
        # Any layer may raise the class, none may lower it (like the risk-class annotation).
        raw["risk_class"] = max((value for _, value in risk), key=RISK_ORDER.index)
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


def raw_referenced_files(raw: dict[str, Any]) -> list[str]:
    """The files a raw (not yet validated) bundle refers to, as `referenced_files` lists them."""
    paths = [p for key in STATEMENT_FOLDERS for p in raw.get(key) or [] if isinstance(p, str)]
    for section, key in (("model_card", "path"), ("explainability", "report")):
        value = (raw.get(section) or {}).get(key)
        if isinstance(value, str) and value and "://" not in value:
            paths.append(value)
    return list(dict.fromkeys(paths))


def lineage(registry: RegistryVersion) -> dict[str, Any]:
    run = registry.run or {}
    tags = {t.get("key"): t.get("value") for t in (run.get("data") or {}).get("tags") or []}
    out: dict[str, Any] = {"run_id": registry.run_id}
    if tags.get(GIT_COMMIT_TAG):
        out["code_commit"] = tags[GIT_COMMIT_TAG]
    datasets = []
    for entry in (run.get("inputs") or {}).get("dataset_inputs") or []:
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


def parse_block(content: bytes, schema: type, where: str) -> dict[str, Any]:
    """A measured block (pii_scan, data_quality, drift) from its JSON file, checked against its schema."""
    try:
        data = json.loads(content)
    except ValueError as exc:
        raise EvidenceError("unreadable", f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EvidenceError("unreadable", f"{where}: expected a JSON object with "
                                          f"{', '.join(schema.model_fields)}")
    try:
        return schema.model_validate(data).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise EvidenceError("unreadable", f"{where}: {describe_validation_error(exc)}") from None


def has_evidence(raw: dict[str, Any], listing: dict[str, int], registry: RegistryVersion) -> bool:
    found_tag = any(
        str(tag.get("key", "")).startswith(TAG_PREFIX)
        for tags in (registry.version.get("tags"), registry.registered.get("tags"),
                     ((registry.run or {}).get("data") or {}).get("tags"),
                     ((registry.logged or {}).get("info") or {}).get("tags"))
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


def _inside(path: str) -> bool:
    # Evidence may only refer to its own folder, as with the file source.
    clean = normpath(path)
    return not (clean.startswith("/") or clean == ".." or clean.startswith("../"))
