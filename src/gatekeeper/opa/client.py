"""Asking OPA: decisions, the policy facts and revision, and how OPA fails.

Every call goes over the gate's own keep-alive connections (`opa.transport`). Measured
against opa-python-client on one OPA, 2,000 calls each, the transport took less than
half the client CPU and latency for decisions and for data documents alike (README, "The
hot path"), so OPA has one connection strategy. Single reviews query
`data.gatekeeper.decision`; batches (CLI, CI) query `data.gatekeeper.batch.decisions`, so
1,000 manifests cost a few round trips, not 1,000. What Python must know of the policy
(enforcement per environment, risk-class order, waiver settings, trusted signers) is one
query of `data.gatekeeper.facts`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from pydantic import ValidationError

from gatekeeper.opa.bundle import POLICY_DATA, revision_digest
from gatekeeper.opa.transport import ConnectionFailed, HttpAnswer, OpaConnections
from gatekeeper.types.policy_facts import PolicyFacts

DECISION_PACKAGE = "gatekeeper"
BATCH_PACKAGE = "gatekeeper.batch"
FACTS_PATH = "gatekeeper/facts"
# One line per problem of the policy library (a matrix family no module implements, a
# requirement ID without a remediation text): the gate refuses a policy with any.
LINT_PACKAGE = "gatekeeper.lint"
LINT_TIMEOUT_S = 30.0
# What a model's evidence pack reads of the policy (`gatekeeper report model`).
REPORT_PACKAGE = "gatekeeper.report"


class PolicyError(RuntimeError):
    """OPA did not give a decision (unreachable, timed out, evaluation error, undefined)."""

    component = "OPA"


class PolicyEngine:
    def __init__(self, url: str, *, timeout: float = 2.0, batch_size: int = 100, concurrency: int = 4) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL '{url}' is not an http(s) URL")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.batch_size = batch_size
        self.concurrency = concurrency
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        # No retries: they would blow the admission budget; the gate fails closed instead.
        self._connections = OpaConnections(parts.hostname, port, use_tls=tls)

    async def open(self) -> None:
        """Nothing to set up: connections open on first use and are kept alive."""

    async def close(self) -> None:
        await self._connections.close()

    async def decide(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        return await self._query(DECISION_PACKAGE, "decision", input_doc)

    async def decide_many(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Decisions for many inputs, in order, in batches evaluated concurrently."""
        chunks = [inputs[i : i + self.batch_size] for i in range(0, len(inputs), self.batch_size)]
        limit = asyncio.Semaphore(self.concurrency)

        async def run(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
            async with limit:
                result = await self._query(BATCH_PACKAGE, "decisions", {"items": chunk})
            if not isinstance(result, list) or len(result) != len(chunk):
                raise PolicyError("OPA returned a batch result of the wrong shape")
            return result

        results = await asyncio.gather(*(run(chunk) for chunk in chunks))
        return [decision for chunk in results for decision in chunk]

    async def model_report(self, input_doc: dict[str, Any]) -> dict[str, Any]:
        """data.gatekeeper.report.model for a decision input of one model: its class, the
        thresholds that apply to it, each signed statement with why it does not count."""
        result = await self._query(REPORT_PACKAGE, "model", input_doc)
        if not isinstance(result, dict):
            raise PolicyError(f"OPA at {self.url}: data.{REPORT_PACKAGE}.model is not an object")
        return result

    async def data(self, path: str) -> Any:
        """A data document or rule value (e.g. `gatekeeper/matrix`), or None when undefined."""
        status, document = await self._ask(self._connections.get(f"/v1/data/{quote(path)}"))
        if status != 200 or not isinstance(document, dict):
            raise PolicyError(f"OPA at {self.url}: cannot read data.{path.replace('/', '.')} "
                              f"(HTTP {status}: {_error_text(document)})")
        return document.get("result")

    async def facts(self, *, lint: bool = True) -> PolicyFacts:
        """The policy facts and the revision they belong to: one snapshot per policy revision.

        The revision is read first: should the policy change in between, the facts are the
        newer ones and the next revision check reads them again, never the reverse. The
        facts carry the policy's problems (`data.gatekeeper.lint.problems`), judged on the
        modules as this OPA loaded them; `lint=False` (a report, which decides nothing)
        skips judging them, the slowest part.
        """
        modules = await self.modules()
        revision = await self._revision_of(modules)
        document = await self.data(FACTS_PATH)
        if document is None:
            raise PolicyError(f"OPA at {self.url}: data.{FACTS_PATH.replace('/', '.')} is undefined (policies not loaded?)")
        problems = await self.problems(modules) if lint else []
        try:
            return PolicyFacts.model_validate({**document, "revision": revision, "problems": problems})
        except (ValidationError, TypeError) as exc:
            raise PolicyError(f"OPA at {self.url}: data.{FACTS_PATH.replace('/', '.')} is not the policy facts "
                              f"({' '.join(str(exc).split())})") from None

    async def problems(self, modules: dict[str, str]) -> list[str]:
        """The policy's problems, one line each; none when the policy has no lint rules
        (an older policy library, e.g. the base side of `policy impact`)."""
        # OPA names a module loaded from /x/y.rego "x/y.rego": name it as the file it is, for the lines
        named = {_file_name(module_id): text for module_id, text in modules.items()}
        # parsing every family module takes a while on a busy machine: not the admission budget
        result = await self._query(LINT_PACKAGE, "problems", {"modules": named}, required=False,
                                   timeout=max(self.timeout, LINT_TIMEOUT_S))
        if result is None:
            return []
        if not isinstance(result, list) or not all(isinstance(line, str) for line in result):
            raise PolicyError(f"OPA at {self.url}: data.{LINT_PACKAGE}.problems is not a list of lines")
        return sorted(result)

    async def modules(self) -> dict[str, str]:
        """Every Rego module OPA has loaded: its id (the path it was loaded from) -> text.

        One GET of /v1/policies, which holds every module's text (and its AST, which is most
        of the bytes), parsed by orjson: the server runs this every 30 s while it serves
        reviews, and a module-by-module walk through the stdlib parser held its event loop
        for ~20 ms.
        """
        status, document = await self._ask(self._connections.get("/v1/policies"))
        if status != 200 or not isinstance(document, dict) or not isinstance(document.get("result"), list):
            raise PolicyError(f"OPA at {self.url}: cannot list policies (HTTP {status}: {_error_text(document)})")
        return {m["id"]: m.get("raw", "") for m in document["result"] if isinstance(m, dict) and m.get("id")}

    async def revision(self) -> str:
        """sha256 over the Rego modules and data OPA has loaded, as OPA reports them."""
        return await self._revision_of(await self.modules())

    async def _revision_of(self, modules: dict[str, str]) -> str:
        return revision_digest(modules, await self.policy_data())

    async def policy_data(self) -> dict[str, Any]:
        """The data documents compliance owns (POLICY_DATA), path -> value (None: undefined)."""
        return {path: await self.data(path) for path in POLICY_DATA}

    async def snapshot(self) -> tuple[str, dict[str, str], dict[str, Any]]:
        """What the policy revision is over: the revision, the modules and the documents."""
        modules = await self.modules()
        data = await self.policy_data()
        return revision_digest(modules, data), modules, data

    async def version(self) -> str:
        """The version of the OPA answering (opa.runtime() of an ad-hoc query)."""
        exchange = self._connections.post_json("/v1/query", orjson.dumps({"query": "v := opa.runtime().version"}))
        status, document = await self._ask(exchange)
        try:
            return str(document["result"][0]["v"])
        except (TypeError, KeyError, IndexError):
            raise PolicyError(f"OPA at {self.url}: cannot read its version (HTTP {status}: {_error_text(document)})") from None

    async def _query(self, package: str, rule: str, input_doc: dict[str, Any], *, required: bool = True,
                     timeout: float | None = None) -> Any:
        path = f"/v1/data/{package.replace('.', '/')}/{rule}"
        exchange = self._connections.post_json(path, orjson.dumps({"input": input_doc}))
        status, document = await self._ask(exchange, timeout)
        if status != 200:
            raise PolicyError(f"OPA at {self.url} answered HTTP {status}: {_error_text(document)}")
        if not isinstance(document, dict):
            raise PolicyError(f"OPA at {self.url} answered with something that is not a JSON object")
        if "result" not in document:
            if not required:
                return None
            raise PolicyError(f"OPA at {self.url}: data.{package}.{rule} is undefined (policies not loaded?)")
        return document["result"]

    async def _ask(self, exchange: Awaitable[HttpAnswer], timeout: float | None = None) -> tuple[int, Any]:
        """One exchange over the engine's own connections, within its timeout: the HTTP
        status and the JSON document (None when the body is not JSON). A broken, refused or
        slow connection is a PolicyError naming OPA."""
        try:
            async with asyncio.timeout(timeout or self.timeout):
                answer = await exchange
        except (ConnectionFailed, TimeoutError, OSError) as exc:
            raise PolicyError(_describe(exc, self.url)) from None
        try:
            return answer.status, orjson.loads(answer.body)
        except orjson.JSONDecodeError:
            return answer.status, None


def _file_name(module_id: str) -> str:
    """The file a module id names: OPA drops the leading / of an absolute path."""
    if not os.path.isabs(module_id) and os.path.isfile(os.sep + module_id):
        return os.sep + module_id
    return module_id


def _error_text(document: Any) -> str:
    """OPA's error body: the message, and the first underlying error with its place."""
    if not isinstance(document, dict):
        return "no message"
    text = str(document.get("message") or "no message")
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        location = first.get("location") if isinstance(first.get("location"), dict) else {}
        place = f" ({location.get('file')}:{location.get('row')})" if location.get("file") else ""
        text += f": {first.get('message')}{place}"
    return " ".join(text.split())  # one line: it becomes a line of the denial message


def _describe(exc: BaseException, url: str) -> str:
    if isinstance(exc, TimeoutError):
        return f"OPA at {url} did not answer in time"
    return f"OPA at {url} is unreachable ({type(exc).__name__}: {exc})".rstrip(" ()")
