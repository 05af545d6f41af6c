"""The auditor's loop: a cycle when a watch event comes in, and at least every `interval`.

The cache watches the gated kinds and namespaces (watch.py), so a change wakes the loop
and is judged within about `SETTLE` instead of waiting for the next tick; `interval`
still bounds how late an expiry, republished evidence or a new policy revision (which
no watch announces) is noticed. A burst of events is taken in one cycle: the loop waits
`SETTLE` after a wake-up before cycling. The loop is the only place that waits on the
real clock: tests call `Auditor.cycle` with an injected clock instead.
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import structlog

from gatekeeper.auditor.rejudge import Auditor

log = structlog.get_logger("gatekeeper.auditor")
DEFAULT_INTERVAL = timedelta(seconds=10)
SETTLE = 0.2  # seconds: events arriving together (a rollout, a relist) make one cycle


def yield_cpu(nice: int) -> int:
    """Lower this process's CPU priority (and so that of the OPA it starts next, which
    inherits it); the niceness now in force.

    A resync is a burst of Python and OPA work; where it shares cores with the webhook
    (one node, or this machine in bench/auditor_bench.py, which measures the difference),
    the scheduler then gives admission the cores first and the resync the rest. Raising
    niceness needs no privilege. Between pods the kernel weighs their CPU requests instead,
    and deploy/ asks half as much for the auditor's pod as for the webhook's.
    """
    return os.nice(nice)


async def run(auditor: Auditor, *, interval: timedelta = DEFAULT_INTERVAL,
              stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    try:
        while not stop.is_set():
            auditor.cache.wake.clear()  # events from here on make the next cycle come early
            result = await auditor.cycle()
            if result.failure:
                log.warning("audit cycle incomplete", failure=result.failure)
            elif result.judged or result.removed:
                log.info("audit cycle", judged=len(result.judged), removed=len(result.removed), leader=result.leader)
            if await _first(stop.wait(), auditor.cache.wake.wait(), timeout=interval.total_seconds()):
                await asyncio.sleep(SETTLE)
    finally:
        auditor.close()


async def _first(*waits, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Wait for the first of `waits` or the timeout; True when one of them came."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    done, pending = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    return bool(done)
