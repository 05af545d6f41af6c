"""What the console reads from: the gate (its OPA and evidence lookup), the decision log
and the inventory, with the few caches that keep pages fast, and how a model version is
judged now (as an admission would judge it, never recorded: the console decides nothing).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gatekeeper.audit import AuditRecord, AuditStore
from gatekeeper.pipeline.gate import Gate, Manifest, ReviewContext
from gatekeeper.types.decision import Decision, ModelRef

# namespace (None: all) -> the inventory rows of `gatekeeper inventory --format json`
InventoryReader = Callable[[str | None], Awaitable[list[dict[str, Any]]]]
Clock = Callable[[], datetime]

INVENTORY_TTL_S = 5.0
JUDGEMENT_TTL_S = 30.0
# The environment a version that runs nowhere is judged in: the strictest, as the gate does.
STRICTEST = "production"


class InventoryUnavailable(Exception):
    """The cluster could not be read (the page says so; nothing else fails)."""


@dataclass
class Sources:
    gate: Gate  # its OPA and evidence lookup; built without an audit store, so nothing is recorded
    store: AuditStore | None  # None: no decision log yet
    inventory: InventoryReader | None  # None: no cluster configured
    clock: Clock
    monotonic: Callable[[], float] = time.monotonic
    _rows: tuple[float, list[dict[str, Any]]] | None = None
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock)
    _judged: dict[tuple[str, str, str], tuple[float, Decision]] = field(default_factory=dict)
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
        if self.inventory is None:
            return []
        async with self._reading:  # pages asking at once share one read of the reports
            if self._rows is not None and self._rows[0] > self.monotonic():
                return self._rows[1]
            rows = await self.inventory(None)
            self._rows = (self.monotonic() + INVENTORY_TTL_S, rows)
            return rows

    async def judge(self, name: str, version: str, environment: str = STRICTEST) -> Decision:
        """How the policy judges this version now in `environment`: the decision an admission
        of a workload serving it from its evidenced artifact would get (not recorded)."""
        return (await self.judge_many([(name, version)], environment))[(name, version)]

    async def judge_many(self, versions: list[tuple[str, str]], environment: str = STRICTEST) -> dict[tuple[str, str], Decision]:
        """`judge` for several versions, the ones not judged lately in one batch to OPA."""
        now = self.monotonic()
        due = [nv for nv in versions if (hit := self._judged.get((*nv, environment))) is None or hit[0] <= now]
        if due:
            found = [await self.gate.lookup.find(ModelRef(ref=f"models:/{n}/{v}", name=n, version=v)) for n, v in due]
            manifests = [Manifest(probe(n, v, ((f.facts or {}).get("evidence") or {}).get("artifact", {}).get("uri"), i))
                         for i, ((n, v), f) in enumerate(zip(due, found))]
            evaluation = await self.gate.evaluate(manifests, environment, ReviewContext(source="api"))
            for decision in evaluation.report.results:  # matched by the probe's name, whatever the order
                nv = due[int(decision.object.name.rsplit("-", 1)[1])]
                self._judged[(*nv, environment)] = (now + JUDGEMENT_TTL_S, decision)
        return {nv: self._judged[(*nv, environment)][1] for nv in versions if (*nv, environment) in self._judged}


def probe(name: str, version: str, storage_uri: str | None, index: int = 0) -> dict[str, Any]:
    """A KServe InferenceService serving the version from the artifact its evidence names."""
    model: dict[str, Any] = {"modelFormat": {"name": "unknown"}}
    if storage_uri:
        model["storageUri"] = storage_uri
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": f"console-probe-{index}", "namespace": "console",
                         "annotations": {"model-gatekeeper.io/model": f"models:/{name}/{version}"}},
            "spec": {"predictor": {"model": model}}}
