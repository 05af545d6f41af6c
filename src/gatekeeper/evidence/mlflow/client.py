"""A small async client for MLflow's REST API (3.x), shared by the source and `publish`.

One aiohttp session per client, opened on the first request and kept until `close()`:
an admission then reuses warm connections instead of paying a TCP (and TLS) handshake
per lookup. Every request is bounded by the client's timeout; a registry that is down,
slow, overloaded or refusing the credentials raises SourceUnavailable, an answer about
the request itself (unknown version, bad parameter) raises MlflowHttpError.

Credentials and TLS settings come from the environment, named as the MLflow client
names them (docs/mlflow.md, "Access, timeouts and caching").
"""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp

from gatekeeper.evidence.source import EvidenceError, SourceUnavailable

MAX_FILE_BYTES = 8 * 1024 * 1024


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
    """MLflow's REST endpoints over one long-lived aiohttp session.

    The session belongs to the event loop of the first request; close the client
    (`await client.close()`, or `async with`) before that loop ends.
    """

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

    async def __aenter__(self) -> MlflowRest:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session and its connections; a later request opens a new one."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> aiohttp.ClientSession:
        # Synchronous, so concurrent first requests cannot open two sessions.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self.ssl if self.ssl is not None else True),
                headers=self.headers, auth=self.auth, timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
        return self._session

    async def get(self, endpoint: str, **params: str) -> dict[str, Any]:
        return await self._json("GET", f"{self.url}/api/2.0/mlflow/{endpoint}", params=params)

    async def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", f"{self.url}/api/2.0/mlflow/{endpoint}", json=body)

    async def delete(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("DELETE", f"{self.url}/api/2.0/mlflow/{endpoint}", json=body)

    async def artifact(self, run_id: str, path: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
        """One run artifact's content, or None when it does not exist."""
        try:
            async with self._open().get(f"{self.url}/get-artifact", params={"run_uuid": run_id, "path": path}) as answer:
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
        try:
            async with self._open().put(f"{self.url}/api/2.0/mlflow-artifacts/artifacts/{artifact_path}",
                                        data=content) as answer:
                await self._check(answer)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unavailable(exc) from None

    async def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self._open().request(method, url, **kwargs) as answer:
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
