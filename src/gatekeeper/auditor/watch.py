"""List once, then watch: the auditor's local copy of the gated workloads, the governed
namespaces and its own PolicyReports (an informer, as client-go has one).

Each collection is listed once; a thread then watches it from the list's resourceVersion
and hands every event to the event loop, which alone changes the store (no locks). A
watch the server ends (its timeout) resumes from the last resourceVersion seen, which
bookmarks keep fresh. A watch that breaks, or whose resourceVersion has expired (410
Gone), marks its collection stale, and the next cycle lists it again: listing happens
only inside `sync`, called by the cycle, so an unreachable API shows there as a
ClusterError (counted, shown, retried), as it did when every cycle listed everything.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import structlog
from kubernetes.watch.watch import iter_resp_lines

from gatekeeper.auditor.client import Cluster, Collection, NotServed, typed

log = structlog.get_logger("gatekeeper.auditor")
WATCH_SECONDS = 300  # one watch request's server-side timeout; then it resumes where it was


class Informer:
    """One collection: its items by uid, and the thread watching it."""

    def __init__(self, cluster: Cluster, collection: Collection, wake: asyncio.Event | None) -> None:
        self.cluster, self.collection, self.wake = cluster, collection, wake
        self.items: dict[str, dict[str, Any]] = {}
        self.synced = False  # listed, and its watch has not broken since
        self.absent_since: datetime | None = None  # the API does not serve it (404), probed again later
        self._generation = 0  # events of an earlier watch (before a relist or stop) are dropped
        self._response: Any = None

    async def sync(self, now: datetime, absent_retry: timedelta) -> None:
        """List, unless watching already (or the kind is known absent, until `absent_retry`)."""
        if self.synced or (self.absent_since is not None and now - self.absent_since < absent_retry):
            return
        self.stop()
        try:
            items, resource_version = await self.cluster.list_all(self.collection)
        except NotServed:
            self.items, self.absent_since = {}, now
            return
        self.items = {item["metadata"]["uid"]: item for item in items}
        self.synced, self.absent_since = True, None
        generation, loop = self._generation, asyncio.get_running_loop()
        threading.Thread(target=self._watch, args=(loop, generation, resource_version), daemon=True,
                         name=f"watch-{self.collection.name}").start()

    def stop(self) -> None:
        """End the watch: its later events are dropped, its stream is cut."""
        self._generation += 1
        self.synced = False
        response, self._response = self._response, None
        _cut(response)

    # --- the watch thread -------------------------------------------------------------------

    def _watch(self, loop: asyncio.AbstractEventLoop, generation: int, resource_version: str) -> None:
        try:
            # a closed loop: the auditor's asyncio.run ended without stopping its watches
            while generation == self._generation and not loop.is_closed():
                for event in self._events(generation, resource_version):
                    meta = (event.get("object") or {}).get("metadata") or {}
                    resource_version = meta.get("resourceVersion") or resource_version
                    if event.get("type") != "BOOKMARK":
                        _hand(loop, self._apply, generation, event["type"], event["object"])
        except _LoopClosed:
            return  # nobody is listening any more
        except Exception as exc:  # noqa: BLE001 - 410 Gone, a cut connection, an unreachable API
            try:
                _hand(loop, self._break, generation, f"{type(exc).__name__}: {exc}")
            except _LoopClosed:
                pass

    def _events(self, generation: int, resource_version: str) -> Iterator[dict[str, Any]]:
        response = self.cluster.open_watch(self.collection, resource_version, WATCH_SECONDS)
        self._response = response
        try:
            if generation != self._generation:  # stopped while the request was on its way
                return
            for line in iter_resp_lines(response):
                if not line:
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":  # a Status: 410 when resource_version has expired
                    status = event.get("object") or {}
                    raise WatchEnded(f"HTTP {status.get('code')} {status.get('reason')}: {status.get('message')}")
                yield event
        finally:
            response.release_conn()

    # --- on the event loop --------------------------------------------------------------------

    def _apply(self, generation: int, kind: str, obj: dict[str, Any]) -> None:
        if generation != self._generation:
            return
        uid = obj["metadata"]["uid"]
        if kind == "DELETED":
            self.items.pop(uid, None)
        else:  # ADDED, MODIFIED
            self.items[uid] = typed(obj, self.collection)
        if self.wake is not None:
            self.wake.set()

    def _break(self, generation: int, why: str) -> None:
        if generation != self._generation:
            return
        self.synced = False
        log.warning("watch ended; listing again next cycle", collection=self.collection.name, reason=why)
        if self.wake is not None:
            self.wake.set()


class WatchEnded(Exception):
    """The API server ended the watch with an error (410 Gone: list again)."""


class _LoopClosed(Exception):
    pass


def _hand(loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> None:
    """Run fn(*args) on the event loop, which alone touches the store."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError as exc:  # the loop is closed (the auditor's asyncio.run ended)
        raise _LoopClosed from exc


def _cut(response: Any) -> None:
    """Unblock a thread reading the stream: shut the socket down (closing it from another
    thread can wait on the lock the blocked read holds)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(2)  # socket.SHUT_RDWR
        except OSError:
            pass


class Cache:
    """The informers the auditor reads instead of listing: the governed namespaces, each
    gated kind, and its own PolicyReports. Workload and namespace events wake the loop
    (`wake`); report events do not (most are the auditor's own writes)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.wake = asyncio.Event()
        self.namespace_informer: Informer | None = None
        self.informers: dict[Collection, Informer] = {}  # by gated kind
        self.reports = Informer(cluster, Cluster.own_reports(), None)

    async def sync(self, namespaces: Collection, workloads: list[Collection], now: datetime,
                   absent_retry: timedelta) -> None:
        """Make the store current: list what is not being watched (first, or after a
        broken watch) and start its watch. Collections no longer wanted (a policy revision
        changed the serving kinds or the environment label) stop. Raises ClusterError."""
        if self.namespace_informer is None or self.namespace_informer.collection != namespaces:
            if self.namespace_informer is not None:
                self.namespace_informer.stop()
            self.namespace_informer = Informer(self.cluster, namespaces, self.wake)
        await self.namespace_informer.sync(now, absent_retry)  # first: its failure names the cause
        for gone in set(self.informers) - set(workloads):
            self.informers.pop(gone).stop()
        for collection in workloads:
            if collection not in self.informers:
                self.informers[collection] = Informer(self.cluster, collection, self.wake)
            await self.informers[collection].sync(now, absent_retry)
        await self.reports.sync(now, absent_retry)

    def namespaces(self, label: str) -> dict[str, str]:
        """namespace -> environment (the label's value)."""
        items = self.namespace_informer.items.values() if self.namespace_informer else ()
        return {ns["metadata"]["name"]: ns["metadata"]["labels"][label] for ns in items
                if label in (ns["metadata"].get("labels") or {})}

    def workloads(self) -> list[dict[str, Any]]:
        """Every gated object (a snapshot: events may arrive while the cycle judges)."""
        return [obj for informer in list(self.informers.values()) for obj in informer.items.values()]

    def stop(self) -> None:
        for informer in [self.namespace_informer, *self.informers.values(), self.reports]:
            if informer is not None:
                informer.stop()
        self.namespace_informer = None
        self.informers.clear()
