"""Evidence lookup: a model reference -> the facts of its evidence, as the policy reads them.

Between the pipeline and an evidence source: aliases resolved and cached, evidence cached
per version for a TTL, one request for concurrent callers (single flight), a timeout per
source call, and at most `source.max_concurrency` calls at once. Time is a monotonic clock
the caller may inject, so a test moves it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gatekeeper import metrics
from gatekeeper.evidence.facts import evidence_facts
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.evidence.source import EvidenceError, EvidenceSource
from gatekeeper.types.decision import ModelRef
from gatekeeper.types.policy_input import EvidenceErrorFact, EvidenceFacts

T = TypeVar("T")
Clock = Callable[[], float]


class TTLCache(Generic[T]):
    """Caches successful results for `ttl` seconds of `clock`; failures are never cached.

    Concurrent `get` calls for the same key share one in-flight load (single flight), so
    a burst of admissions for one model version makes one request to the source.
    """

    def __init__(self, ttl: float, max_entries: int = 10_000, clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._inflight: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        hit = self._values.get(key)
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here; waiters re-raise their own copy
            raise
        else:
            future.set_result(value)
            if len(self._values) >= self.max_entries:
                self._values.pop(next(iter(self._values)))
            self._values[key] = (self._clock() + self.ttl, value)
            return value
        finally:
            del self._inflight[key]

    def invalidate(self, key: Hashable) -> None:
        self._values.pop(key, None)

    def clear(self) -> None:
        self._values.clear()


@dataclass(frozen=True, slots=True)
class Found:
    """What a lookup found for one model reference."""

    version: str | None  # the version looked up (an alias resolved); None when it could not be
    facts: EvidenceFacts | None = None
    digest: str = ""  # of the bundle and every file it refers to ("" without evidence)
    error: EvidenceErrorFact | None = None  # why there are no facts
    # Why the model could not be evaluated (unreadable evidence, a source down or too slow),
    # one line for the CLI, which then exits 2; None for plain missing evidence.
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class _Loaded:
    found: Found  # built once per load: a cache hit allocates nothing
    revision: str  # the source's version marker the facts were built from


class EvidenceLookup:
    def __init__(self, source: EvidenceSource, *, timeout: float = 1.0, ttl: float = 30.0,
                 clock: Clock = time.monotonic) -> None:
        self.source = source
        self.timeout = timeout
        self._trust = TrustStore({})
        self._aliases: TTLCache[ModelRef] = TTLCache(min(ttl, source.alias_ttl), clock=clock)
        self._evidence: TTLCache[_Loaded] = TTLCache(ttl, clock=clock)
        slots = source.max_concurrency
        self._slots = asyncio.Semaphore(slots) if slots else None

    def trust(self, trust: TrustStore) -> None:
        """Verify signatures against these signers from now on; facts verified under the
        previous ones are dropped."""
        self._trust = trust
        self._evidence.clear()

    async def find(self, model: ModelRef) -> Found:
        version = model.version
        try:
            if version is None:
                alias_key = ("alias", model.name, model.alias)
                model = await self._aliases.get(alias_key, lambda: self._call(lambda: self.source.resolve(model)))
                version = model.version
            loaded = await self._cached(model)
        except EvidenceError as exc:
            problem = exc.message if exc.kind in ("unreadable", "unavailable") else None
            return Found(version, error={"kind": exc.kind, "message": exc.message}, problem=problem)
        except TimeoutError:
            metrics.ERRORS.labels(f"evidence:{self.source.name}").inc()
            message = f"evidence source {self.source.name} did not answer within {self.timeout:g}s"
            return Found(version, error={"kind": "unavailable", "message": message}, problem=message)
        return loaded.found

    async def _cached(self, model: ModelRef) -> _Loaded:
        """Facts for one version from the TTL cache, reloaded early when the source has since
        shown a newer revision of that version (e.g. an alias lookup saw a tag set on it)."""
        key = (model.name, model.version)
        loaded = await self._evidence.get(key, lambda: self._call(lambda: self._load(model)))
        expected = self.source.revision_hint(model)
        if expected and loaded.revision and expected != loaded.revision:
            self._evidence.invalidate(key)
            loaded = await self._evidence.get(key, lambda: self._call(lambda: self._load(model)))
        return loaded

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """One request to the evidence source, within the timeout. A source that asks for it
        (`max_concurrency`, a registry) gets at most that many calls at once, so a CI run over
        many models does not queue hundreds of requests on it; the wait for a slot is not
        part of the timeout (the webhook's response budget bounds it)."""
        async with self._slots or contextlib.nullcontext():
            async with asyncio.timeout(self.timeout):
                return await make()

    async def _load(self, model: ModelRef) -> _Loaded:
        with metrics.EVIDENCE_SECONDS.labels(self.source.name).time():
            loaded = await self.source.load(model)
        facts = evidence_facts(loaded, self._trust)
        digest = facts.pop("evidence_digest")
        return _Loaded(Found(model.version, facts=facts, digest=digest), loaded.revision)  # type: ignore[arg-type]
