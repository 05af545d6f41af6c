"""`gatekeeper check --remote URL`: ask a running gate's `POST /v1/evaluate` instead of
starting OPA here, and get the same report (README "The decision") the local check prints.

Objects go in chunks (the gate refuses bodies over its limit, 4 MiB by default); the
answers are joined in input order, and each decision gets back the file and line of its
object, which only this side knows. Anything but a well-formed report is a RemoteError:
one line, exit 2.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from gatekeeper.pipeline.gate import Evaluation, Manifest
from gatekeeper.types.decision import ObjectRef, Report
from gatekeeper.pipeline.workloads import object_ref

EVALUATE_PATH = "/v1/evaluate"
CHUNK_OBJECTS = 500
CHUNK_BYTES = 1024 * 1024
TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class RemoteError(RuntimeError):
    """The remote gate could not be asked, or did not answer with a report."""


def endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"--remote '{url}' is not an http(s) URL")
    base = url.rstrip("/")
    return base if base.endswith(EVALUATE_PATH) else base + EVALUATE_PATH


def chunks(manifests: list[Manifest]) -> list[list[Manifest]]:
    out: list[list[Manifest]] = [[]]
    size = 0
    for manifest in manifests:
        length = len(json.dumps(manifest.object, separators=(",", ":")))
        if out[-1] and (len(out[-1]) >= CHUNK_OBJECTS or size + length > CHUNK_BYTES):
            out.append([])
            size = 0
        out[-1].append(manifest)
        size += length
    return out


class RemoteGate:
    """A running gate reached over HTTP(S); a context manager holding one connection pool."""

    def __init__(self, url: str, token: str | None = None, *, timeout: httpx.Timeout = TIMEOUT) -> None:
        self.url = endpoint(url)
        headers = {"accept": "application/json", "user-agent": "model-gatekeeper-check"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def __enter__(self) -> RemoteGate:
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()

    def evaluate(self, manifests: list[Manifest], environment: str,
                 on_chunk: Callable[[int], None] | None = None) -> Evaluation:
        """The report for MANIFESTS in ENVIRONMENT, with every decision's source restored."""
        reports: list[Report] = []
        problems: list[str] = []
        for chunk in chunks(manifests):
            report, chunk_problems = self._ask(chunk, environment)
            _restore_sources(report, chunk)
            reports.append(report)
            problems.extend(chunk_problems)
            if on_chunk is not None:
                on_chunk(len(chunk))
        return Evaluation(report=Report.merge(reports), problems=list(dict.fromkeys(problems)))

    def _ask(self, chunk: list[Manifest], environment: str) -> tuple[Report, list[str]]:
        body = {"environment": environment, "objects": [m.object for m in chunk]}
        try:
            answer = self._client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise RemoteError(f"remote gate at {self.url} did not answer within {self.timeout.read:g}s") from None
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise RemoteError(f"remote gate at {self.url} is unreachable: {reason}") from None
        if not answer.is_success:
            raise RemoteError(self._refusal(answer))
        try:
            payload = answer.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            kind = answer.headers.get("content-type", "no content type")
            raise RemoteError(f"remote gate at {self.url} answered HTTP {answer.status_code} with something "
                              f"that is not JSON ({kind}, {len(answer.content)} bytes)") from None
        if not isinstance(payload, dict):
            raise RemoteError(f"remote gate at {self.url} answered JSON that is not a report (a {type(payload).__name__})")
        try:
            report = Report.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "top level"
            raise RemoteError(f"remote gate at {self.url} answered JSON that is not a report: {where}: {first['msg']}") from None
        problems = payload.get("problems") or []
        if not isinstance(problems, list) or not all(isinstance(p, str) for p in problems):
            raise RemoteError(f"remote gate at {self.url} answered a report whose 'problems' is not a list of strings")
        answered = len(report.results) + len(report.skipped)
        if answered != len(chunk):
            raise RemoteError(f"remote gate at {self.url} answered for {answered} objects, but {len(chunk)} were sent")
        if any(d.environment != environment for d in report.results):
            raise RemoteError(f"remote gate at {self.url} answered for another environment than '{environment}'")
        return report, problems

    def _refusal(self, answer: httpx.Response) -> str:
        reason = ""
        try:
            payload = answer.json()
            if isinstance(payload, dict):
                reason = str(payload.get("error") or payload.get("detail") or "")
        except (json.JSONDecodeError, UnicodeDecodeError):
            reason = " ".join(answer.text.split())[:200]
        status = f"HTTP {answer.status_code}"
        if answer.status_code in (401, 403):
            hint = "; pass --token or set GATEKEEPER_EVALUATE_TOKEN"
            return f"remote gate at {self.url} refused the request ({status}){': ' + reason if reason else ''}{hint}"
        if answer.status_code == 400 and reason:
            return f"remote gate at {self.url}: {reason}"
        return f"remote gate at {self.url} answered {status}{': ' + reason if reason else ''}"


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (ref.api_version, ref.kind, ref.namespace or "", ref.name)


def _restore_sources(report: Report, chunk: list[Manifest]) -> None:
    """Match decisions (and skipped objects) to the manifests they are about, in order."""
    pending: dict[tuple[str, str, str, str], deque[Manifest]] = defaultdict(deque)
    for manifest in chunk:
        pending[_key(object_ref(manifest.object))].append(manifest)
    for item in [*report.results, *report.skipped]:
        queue = pending.get(_key(item.object))
        if queue:
            item.source = queue.popleft().source


def evaluate_all(url: str, token: str | None, manifests: list[Manifest], environments: list[str],
                 on_chunk: Callable[[int], None] | None = None) -> dict[str, Evaluation]:
    with RemoteGate(url, token) as gate:
        return {environment: gate.evaluate(manifests, environment, on_chunk) for environment in environments}

