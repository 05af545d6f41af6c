"""What the console reads from: the gate (its OPA and evidence lookup), the decision log
and the inventory, with the few caches that keep pages fast, and how a model version is
judged now (as an admission would judge it, never recorded: the console decides nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStore
from gatekeeper.console.snapshot import Inventory
from gatekeeper.evidence.lookup import Found
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext
from gatekeeper.types.decision import Decision, ModelRef

# namespace (None: all) -> the inventory rows of `gatekeeper inventory --format json`
InventoryReader = Callable[[str | None], Awaitable[list[dict[str, Any]]]]
Clock = Callable[[], datetime]

INVENTORY_TTL_S = 5.0
JUDGEMENT_TTL_S = 30.0
# Past its TTL a read is still served, while one refresh runs in the background, until it is
# this many TTLs old; an older one (or none) the page waits for: staleness stays bounded.
STALE_TTLS = 2.0
# The environment a version that runs nowhere is judged in: the strictest, as the gate does.
STRICTEST = "production"

log = logging.getLogger(__name__)


class InventoryUnavailable(Exception):
    """The cluster could not be read (the page says so; nothing else fails)."""


@dataclass
class Judged:
    at: float  # monotonic time the judgement began
    decision: Decision
    found: Found  # the evidence it was judged on, as the page shows it


@dataclass
class Sources:
    gate: Gate  # its OPA and evidence lookup; built without an audit store, so nothing is recorded
    store: AuditStore | None  # None: no decision log yet
    inventory: InventoryReader | None  # None: no cluster configured
    clock: Clock
    monotonic: Callable[[], float] = time.monotonic
    # (monotonic time the read began, the read or why the cluster could not be read)
    _rows: tuple[float, Inventory | InventoryUnavailable] | None = None
    _reading: asyncio.Task[None] | None = None
    _judged: dict[tuple[str, str, str], Judged] = field(default_factory=dict)
    _judging: asyncio.Task[None] | None = None  # the one background re-judgement
    _judging_now: asyncio.Lock = field(default_factory=asyncio.Lock)  # pages waiting for judgements share one batch
    _background: AuditRecord | None = None
    _scanned: int = 0  # the log's records up to this seq were searched for the newest background one

    async def last_background(self) -> AuditRecord | None:
        """The newest re-judgement by the background auditor. The source is in each record's
        body, not an indexed column, so each record is searched once: the first call reads the
        whole log (the app makes it at startup), later ones only what was appended since."""
        if self.store is None:
            return None
        newest = await self.store.list(limit=1)
        if newest and newest[0].seq > self._scanned:
            found = await self.store.list(source="background", limit=1, after=self._scanned)
            self._background = found[0] if found else self._background
            self._scanned = newest[0].seq
        return self._background

    async def workloads(self) -> list[dict[str, Any]]:
        """Every inventory row (InventoryUnavailable when the cluster cannot be read; [] with no cluster)."""
        return (await self.snapshot()).rows

    async def snapshot(self) -> Inventory:
        """The inventory with its indexes. Within INVENTORY_TTL_S of its read it is served as is;
        then it is still served while one background read replaces it, up to STALE_TTLS times
        the TTL; the first page, or one finding it older, waits for the read (one for all)."""
        if self.inventory is None:
            return NO_INVENTORY
        age = None if self._rows is None else self.monotonic() - self._rows[0]
        if age is None or age >= INVENTORY_TTL_S * STALE_TTLS:
            await asyncio.shield(self._read_inventory())
        elif age >= INVENTORY_TTL_S:
            self._read_inventory()
        assert self._rows is not None
        if isinstance(self._rows[1], InventoryUnavailable):
            raise self._rows[1]
        return self._rows[1]

    def _read_inventory(self) -> asyncio.Task[None]:
        """The read under way, or a new one: never two at once."""
        if self._reading is None or self._reading.done():
            self._reading = _background(self._read_rows(), "the inventory")
        return self._reading

    async def _read_rows(self) -> None:
        assert self.inventory is not None
        began = self.monotonic()
        try:
            self._rows = (began, Inventory.of(await self.inventory(None)))
        except InventoryUnavailable as exc:  # kept like a read: pages say so until the next read
            self._rows = (began, exc)

    async def judge(self, name: str, version: str, environment: str = STRICTEST) -> Decision:
        """How the policy judges this version now in `environment`: the decision an admission
        of a workload serving it from its evidenced artifact would get (not recorded)."""
        return (await self.judge_many([(name, version)], environment))[(name, version)]

    async def judge_many(self, versions: list[tuple[str, str]], environment: str = STRICTEST) -> dict[tuple[str, str], Decision]:
        return {nv: judged.decision for nv, judged in (await self.judged(versions, environment)).items()}

    async def judged(self, versions: list[tuple[str, str]], environment: str = STRICTEST) -> dict[tuple[str, str], Judged]:
        """`judge` for several versions, with the evidence each was judged on. Judgements
        younger than JUDGEMENT_TTL_S are served; older ones still are, while one background
        batch re-judges them, up to STALE_TTLS times the TTL; the rest the page waits for,
        judged in one batch to OPA (pages waiting at once share it)."""
        if stale := self._older_than(versions, environment, JUDGEMENT_TTL_S):
            if self._judging is None or self._judging.done():
                self._judging = _background(self._judge(stale, environment), "the judgements")
        if self._older_than(versions, environment, JUDGEMENT_TTL_S * STALE_TTLS):
            async with self._judging_now:
                if due := self._older_than(versions, environment, JUDGEMENT_TTL_S * STALE_TTLS):
                    await self._judge(due, environment)
        return {nv: self._judged[(*nv, environment)] for nv in versions if (*nv, environment) in self._judged}

    def _older_than(self, versions: list[tuple[str, str]], environment: str, seconds: float) -> list[tuple[str, str]]:
        now = self.monotonic()
        return [nv for nv in versions if (hit := self._judged.get((*nv, environment))) is None or now - hit.at >= seconds]

    async def _judge(self, due: list[tuple[str, str]], environment: str) -> None:
        began = self.monotonic()
        found = [await self.gate.lookup.find(ModelRef(ref=f"models:/{n}/{v}", name=n, version=v)) for n, v in due]
        manifests = [Manifest(probe(n, v, ((f.facts or {}).get("evidence") or {}).get("artifact", {}).get("uri"), i))
                     for i, ((n, v), f) in enumerate(zip(due, found))]
        evaluation = await self.gate.evaluate(manifests, environment, ReviewContext(source="api"))
        for decision in evaluation.report.results:  # matched by the probe's name, whatever the order
            index = int(decision.object.name.rsplit("-", 1)[1])
            self._judged[(*due[index], environment)] = Judged(began, decision, found[index])

    async def close(self) -> None:
        """Ends the background reads, then the log."""
        for task in (self._reading, self._judging):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self.store is not None:
            await self.store.close()


NO_INVENTORY = Inventory.of([])


def _background(work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None]:
    """A refresh that may outlive the page that started it; its failure is logged (a page that
    needs a fresher value than the one kept reads again and shows the error itself)."""
    task = asyncio.get_running_loop().create_task(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception() is None
                           or log.warning("console: refreshing %s failed: %s", what, done.exception()))
    return task


def probe(name: str, version: str, storage_uri: str | None, index: int = 0) -> dict[str, Any]:
    """A KServe InferenceService serving the version from the artifact its evidence names."""
    model: dict[str, Any] = {"modelFormat": {"name": "unknown"}}
    if storage_uri:
        model["storageUri"] = storage_uri
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": f"console-probe-{index}", "namespace": "console",
                         "annotations": {"model-gatekeeper.io/model": f"models:/{name}/{version}"}},
            "spec": {"predictor": {"model": model}}}
