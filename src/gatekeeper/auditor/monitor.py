"""The auditor's loop: a cycle every `interval`, until stopped.

A cycle lists each gated kind once and re-judges only the workloads that are due
(rejudge.py); `interval` bounds how late a change, an expiry or a new policy revision is
noticed. The loop is the only place that waits on the real clock: tests call
`Auditor.cycle` with an injected clock instead.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from gatekeeper.auditor.rejudge import Auditor

log = structlog.get_logger("gatekeeper.auditor")
DEFAULT_INTERVAL = timedelta(seconds=10)


async def run(auditor: Auditor, *, interval: timedelta = DEFAULT_INTERVAL,
              stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    while not stop.is_set():
        result = await auditor.cycle()
        if result.failure:
            log.warning("audit cycle incomplete", failure=result.failure)
        elif result.judged or result.removed:
            log.info("audit cycle", judged=len(result.judged), removed=len(result.removed), leader=result.leader)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval.total_seconds())
        except asyncio.TimeoutError:
            pass
