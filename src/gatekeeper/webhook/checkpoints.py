"""The serving gate signs the decision log's checkpoints, every interval while the log
grows and at shutdown, and sends each to its witnesses (C2SP tlog-witness) for their
cosignatures. None of it holds up a review: it runs beside them, and a failure (store
busy, witness down or refusing) is logged and retried at the next interval."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import structlog

from gatekeeper import metrics
from gatekeeper.audit import AuditStore, AuditStoreError
from gatekeeper.audit.note import Signer
from gatekeeper.audit.witness import Witness, WitnessError, add_checkpoint

log = structlog.get_logger("gatekeeper")


class CheckpointSigner:
    def __init__(self, store: AuditStore, signer: Signer, origin: str, interval: float,
                 witnesses: list[Witness] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store, self.signer, self.origin, self.interval = store, signer, origin, interval
        self.witnesses = witnesses or []
        self._clock = clock
        # when the newest checkpoint each witness cosigned was signed (by our clock)
        self._cosigned_since: dict[str, float] = {}
        self._signed_at: dict[int, float] = {}
        for witness in self.witnesses:
            metrics.COSIGNED_AGE.labels(witness.key.name).set_function(self._age(witness.key.name))

    def _age(self, name: str) -> Callable[[], float]:
        started = self._clock()
        return lambda: self._clock() - self._cosigned_since.get(name, started)

    async def sign(self) -> None:
        try:
            made = await self.store.sign_checkpoint(self.signer, self.origin)
        except AuditStoreError as exc:
            log.error("checkpoint not signed", reason=str(exc))
            return
        if made is not None:
            self._signed_at[made.size] = self._clock()
            metrics.CHECKPOINT_SIZE.set(made.size)
            log.info("checkpoint signed", origin=self.origin, size=made.size)
        await self.witness()

    async def witness(self) -> None:
        """Send the newest checkpoint to every witness that has not cosigned it yet."""
        if not self.witnesses:
            return
        try:
            newest = await self.store.checkpoint()
        except AuditStoreError as exc:
            log.error("checkpoint not read for the witnesses", reason=str(exc))
            return
        if newest is None:
            return
        have = {line.split(" ")[1] for line in newest.cosignatures}
        async with httpx.AsyncClient() as client:
            await asyncio.gather(*(self._submit(client, w, newest) for w in self.witnesses if w.key.name not in have))

    async def _submit(self, client: httpx.AsyncClient, witness: Witness, newest) -> None:  # type: ignore[no-untyped-def]
        try:
            line = await add_checkpoint(client, witness, newest.note, newest.size, self.store)
            await self.store.add_cosignature(newest.size, str(witness.key), line)
        except (WitnessError, AuditStoreError) as exc:
            metrics.ERRORS.labels("witness").inc()
            log.warning("checkpoint not cosigned", witness=witness.url, size=newest.size, reason=str(exc))
            return
        self._cosigned_since[witness.key.name] = self._signed_at.get(newest.size, self._clock())
        log.info("checkpoint cosigned", witness=witness.url, size=newest.size)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.sign()
