"""Group commit: many concurrent appends, one writer task, one transaction per batch.

On the webhook's hot path every append must be durable before the answer, but one
transaction (and one fsync) per append would cap throughput at the disk's sync rate and
queue callers behind each other. Instead callers enqueue and await their own future; a
single writer task takes everything queued so far and commits it together. While one
batch commits, the next one gathers, so the batch size follows the load by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Bounds one transaction's size (and so its latency) under a burst.
MAX_BATCH = 256


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write_batch: Callable[[list[Item]], Awaitable[list[Result]]],
        wrap_error: Callable[[BaseException], Exception],
        closed_error: Callable[[], Exception],
    ) -> None:
        self._write_batch = write_batch
        self._wrap_error = wrap_error
        self._closed_error = closed_error
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    async def submit(self, item: Item) -> Result:
        if self._closing:
            raise self._closed_error()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = loop.create_task(self._run(), name="audit-group-commit")
        self._wakeup.set()
        # shield: a caller that gives up (request timeout) does not take its record out of
        # a batch that is already being written; the record is kept either way.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Write everything already submitted, then stop the writer."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._pending:
                    batch = self._pending[:MAX_BATCH]
                    del self._pending[:MAX_BATCH]
                    await self._write(batch)
                    batch = []
                if self._closing:
                    return
        except BaseException as exc:
            # The writer itself was cancelled (loop shutting down): nobody may wait forever.
            self._closing = True
            error = self._wrap_error(exc)
            for _, future in batch + self._pending:
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()
            raise

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._write_batch([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting caller must hear of it
            error = self._wrap_error(exc)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
