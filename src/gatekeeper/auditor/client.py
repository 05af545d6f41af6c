"""The auditor's one door to the Kubernetes API (the `kubernetes` client, synchronous,
called from a thread through gatekeeper.kubeapi, as the webhook does). watch.py reads the watch streams
this opens; everything else goes through `Cluster._call`.

Every failure becomes `ClusterError`: the auditor counts it and tries again next cycle;
it never turns into a verdict about a workload.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from gatekeeper import kubeapi
from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL

REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL = "wgpolicyk8s.io", "v1alpha2", "policyreports"
MANAGED_BY = {"app.kubernetes.io/managed-by": "model-gatekeeper"}
TIMEOUT = 10  # seconds per API call: a hung API server must not stall the auditor forever
_MANAGED_SELECTOR = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


class ClusterError(RuntimeError):
    """The Kubernetes API did not answer as expected."""


class NotServed(ClusterError):
    """The API does not serve this kind (its CRD is not installed): 404 on the list."""


@dataclass(frozen=True)
class Resource:
    """A listable kind: where the API serves it."""

    group: str
    version: str
    plural: str
    kind: str


@dataclass(frozen=True)
class Collection:
    """What one informer lists and watches (watch.py): a kind across all namespaces, the
    governed namespaces, or this auditor's reports. Items come back as plain JSON with
    apiVersion and kind set (the items of a core list carry neither)."""

    name: str  # in messages: "list <name>"
    api: str  # "core" | "custom"
    method: str  # the generated list call, which also watches (watch=True)
    args: tuple[str, ...] = ()
    label_selector: str | None = None
    api_version: str = ""
    kind: str = ""

    def selector(self) -> dict[str, str]:
        return {"label_selector": self.label_selector} if self.label_selector else {}


WATCH_CONNECTIONS = 32  # the watch client's pool: one long-lived stream per informer


class Cluster:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.lists: Counter[str] = Counter()  # list calls made, by collection (the informers list once)
        self._watcher: tuple[client.CoreV1Api, client.CustomObjectsApi] | None = None

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await kubeapi.call(what, fn, *args, timeout=TIMEOUT, error=ClusterError, **kwargs)

    @staticmethod
    def namespaces(label: str = ENVIRONMENT_LABEL) -> Collection:
        """Namespaces carrying the environment label (a label-selected watch also tells
        when a namespace loses the label: it is deleted from the watch's view)."""
        return Collection("namespaces", "core", "list_namespace", label_selector=label, api_version="v1",
                          kind="Namespace")

    @staticmethod
    def workloads(resource: Resource) -> Collection:
        api_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        if not resource.group:  # the core group (Pod, ReplicationController): the typed client's list call
            method = f"list_{re.sub(r'(?<!^)(?=[A-Z])', '_', resource.kind).lower()}_for_all_namespaces"
            if not hasattr(client.CoreV1Api, method):
                raise ClusterError(f"core kind {resource.plural} is not listable by the auditor")
            return Collection(resource.plural, "core", method, api_version="v1", kind=resource.kind)
        return Collection(f"{resource.plural}.{resource.group}", "custom", "list_cluster_custom_object",
                          (resource.group, resource.version, resource.plural), api_version=api_version,
                          kind=resource.kind)

    @staticmethod
    def own_reports() -> Collection:
        return Collection(REPORT_PLURAL, "custom", "list_cluster_custom_object",
                          (REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL), label_selector=_MANAGED_SELECTOR,
                          api_version=f"{REPORT_GROUP}/{REPORT_VERSION}", kind="PolicyReport")

    def _method(self, collection: Collection, watching: bool = False) -> Any:
        core, custom = self._watch_apis() if watching else (self.core, self.custom)
        return getattr(core if collection.api == "core" else custom, collection.method)

    async def list_all(self, collection: Collection) -> tuple[list[dict[str, Any]], str]:
        """Every item of the collection and the list's resourceVersion (where its watch
        starts). Raw JSON, not the typed models: a thousand Pods need no deserialising."""
        self.lists[collection.name] += 1
        try:
            listing = await self._call(f"list {collection.name}", self._list_json, collection)
        except ClusterError as exc:
            if _status(exc) == 404:
                raise NotServed(str(exc)) from exc
            raise
        items = [typed(item, collection) for item in listing.get("items") or []]
        return items, str((listing.get("metadata") or {}).get("resourceVersion") or "")

    def _list_json(self, collection: Collection, _request_timeout: float) -> dict[str, Any]:
        answer = self._method(collection)(*collection.args, _preload_content=False,
                                          _request_timeout=_request_timeout, **collection.selector())
        try:
            return json.loads(answer.data)  # type: ignore[no-any-return]
        finally:
            answer.release_conn()

    def open_watch(self, collection: Collection, resource_version: str, seconds: int) -> Any:
        """A watch stream from `resource_version` (the raw urllib3 response, read line by
        line by watch.py in its own thread). Bookmarks keep the resourceVersion fresh; the
        server ends the stream after `seconds`, and a read timeout a little longer catches
        an API server that went silent."""
        return self._method(collection, watching=True)(
            *collection.args, watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
            timeout_seconds=seconds, _preload_content=False, _request_timeout=(TIMEOUT, seconds + 30), **collection.selector())

    def _watch_apis(self) -> tuple[client.CoreV1Api, client.CustomObjectsApi]:
        """Watches get their own client: each holds a connection for minutes, and would
        otherwise crowd the calls that judge and write out of the shared pool."""
        if self._watcher is None:
            configuration = copy.deepcopy(self.api_client.configuration)
            configuration.connection_pool_maxsize = WATCH_CONNECTIONS
            watcher = client.ApiClient(configuration)
            watcher.default_headers.update(self.api_client.default_headers)  # e.g. Impersonate-User
            self._watcher = (client.CoreV1Api(watcher), client.CustomObjectsApi(watcher))
        return self._watcher

    def close(self) -> None:
        """Close the watch client (the caller owns `api_client`)."""
        if self._watcher is not None:
            self._watcher[0].api_client.close()
            self._watcher = None

    async def put_report(self, report: dict[str, Any], resource_version: str = "") -> dict[str, Any]:
        """Write the report in one call where possible: replace it at `resource_version`
        (the auditor's copy of it), or create it when there is none; when that fails
        because the one there differs (409, 404), read it and replace it. The report as stored."""
        namespace, name = report["metadata"]["namespace"], report["metadata"]["name"]
        args = (REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL)
        replace, create = self.custom.replace_namespaced_custom_object, self.custom.create_namespaced_custom_object
        try:
            if resource_version:
                return await self._call("replace policyreport", replace, *args, name, _at(report, resource_version))  # type: ignore[no-any-return]
            return await self._call("create policyreport", create, *args, report)  # type: ignore[no-any-return]
        except ClusterError as exc:
            if _status(exc) not in (404, 409):  # otherwise: gone, there already, or changed since the copy
                raise
        try:
            current = await self._call("read policyreport", self.custom.get_namespaced_custom_object, *args, name)
        except ClusterError as exc:
            if _status(exc) != 404:
                raise
            return await self._call("create policyreport", create, *args, report)  # type: ignore[no-any-return]
        return await self._call("replace policyreport", replace, *args, name,  # type: ignore[no-any-return]
                                _at(report, current["metadata"]["resourceVersion"]))

    async def delete_report(self, namespace: str, name: str) -> None:
        try:
            await self._call("delete policyreport", self.custom.delete_namespaced_custom_object,
                             REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, name)
        except ClusterError as exc:
            if _status(exc) != 404:
                raise

    async def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        await self._call("create event", self.core.create_namespaced_event, namespace, event)


def _status(exc: ClusterError) -> int | None:
    """The HTTP status the API answered with (None: it did not answer)."""
    return exc.__cause__.status if isinstance(exc.__cause__, ApiException) else None


def _at(report: dict[str, Any], resource_version: str) -> dict[str, Any]:
    return {**report, "metadata": {**report["metadata"], "resourceVersion": resource_version}}


def typed(item: dict[str, Any], collection: Collection) -> dict[str, Any]:
    """An item of a list or a watch event as plain JSON with its apiVersion and kind (a list's items lack them)."""
    return {**item, "apiVersion": collection.api_version, "kind": collection.kind}


class Leases:
    """coordination.k8s.io/v1 Leases (the lease module decides who holds one). Through the
    untyped custom-objects calls: the typed client turns MicroTime strings into datetimes
    and writes them back in a format the API server refuses."""

    GROUP, VERSION, PLURAL = "coordination.k8s.io", "v1", "leases"

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    async def read(self, namespace: str, name: str) -> dict[str, Any] | None:
        custom = self.cluster.custom
        try:
            return await self.cluster._call("read lease", custom.get_namespaced_custom_object,  # type: ignore[no-any-return]
                                            self.GROUP, self.VERSION, namespace, self.PLURAL, name)
        except ClusterError as exc:
            if _status(exc) == 404:
                return None
            raise

    async def write(self, namespace: str, lease: dict[str, Any]) -> bool:
        """Create the lease, or replace it at the resourceVersion read (optimistic
        concurrency: False when another replica wrote it first)."""
        custom, where = self.cluster.custom, (self.GROUP, self.VERSION, namespace, self.PLURAL)
        try:
            if lease["metadata"].get("resourceVersion"):
                await self.cluster._call("replace lease", custom.replace_namespaced_custom_object, *where,
                                         lease["metadata"]["name"], lease)
            else:
                await self.cluster._call("create lease", custom.create_namespaced_custom_object, *where, lease)
        except ClusterError as exc:
            if _status(exc) == 409:
                return False
            raise
        return True
