"""The auditor's one door to the Kubernetes API (the `kubernetes` client, synchronous,
called from a thread so the event loop keeps serving).

Every failure becomes `ClusterError`: the auditor counts it and tries again next cycle;
it never turns into a verdict about a workload.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL

REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL = "wgpolicyk8s.io", "v1alpha2", "policyreports"
MANAGED_BY = {"app.kubernetes.io/managed-by": "model-gatekeeper"}
TIMEOUT = 10  # seconds per API call: a hung API server must not stall the auditor forever


def _status_message(exc: ApiException) -> str:
    """The API server's own words (its Status message), when it gave any."""
    try:
        return str(json.loads(exc.body or "{}").get("message") or "")
    except (ValueError, AttributeError):
        return ""


class ClusterError(RuntimeError):
    """The Kubernetes API did not answer as expected."""


@dataclass(frozen=True)
class Resource:
    """A listable kind: where the API serves it."""

    group: str
    version: str
    plural: str
    kind: str


class Cluster:
    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, _request_timeout=TIMEOUT, **kwargs)
        except ApiException as exc:
            detail = _status_message(exc)
            raise ClusterError(f"{what}: HTTP {exc.status} {exc.reason}{': ' + detail if detail else ''}") from exc
        except Exception as exc:  # noqa: BLE001 - urllib3/socket errors: the API is unreachable
            raise ClusterError(f"{what}: {type(exc).__name__}: {exc}") from exc

    async def governed_namespaces(self, label: str = ENVIRONMENT_LABEL) -> dict[str, str]:
        """namespace -> environment, for namespaces carrying the environment label."""
        found = await self._call("list namespaces", self.core.list_namespace, label_selector=label)
        return {ns.metadata.name: ns.metadata.labels[label] for ns in found.items}

    async def list_objects(self, resource: Resource) -> list[dict[str, Any]]:
        """Every object of one kind, cluster-wide, as plain JSON (apiVersion and kind set).
        A kind the API does not serve (its CRD not installed) has no objects."""
        if resource.group:
            fn, args = self.custom.list_cluster_custom_object, (resource.group, resource.version, resource.plural)
        else:  # the core group has no /apis/ path: ask for the raw JSON of /api/v1/<plural>
            fn, args = self._list_core, (resource.plural,)
        try:
            listing = await self._call(f"list {resource.plural}", fn, *args)
        except ClusterError as exc:
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 404:
                return []
            raise
        api_version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        return [{**item, "apiVersion": api_version, "kind": resource.kind} for item in listing.get("items", [])]

    def _list_core(self, plural: str, _request_timeout: float) -> dict[str, Any]:
        if plural != "pods":  # the serving-kinds table gates one core kind, Pod
            raise ClusterError(f"core kind {plural} is not listable by the auditor")
        pods = self.core.list_pod_for_all_namespaces(_request_timeout=_request_timeout)
        return self.api_client.sanitize_for_serialization(pods)  # type: ignore[no-any-return]

    async def reports(self) -> list[dict[str, Any]]:
        """The PolicyReports this auditor wrote (by their managed-by label)."""
        selector = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())
        listing = await self._call("list policyreports", self.custom.list_cluster_custom_object,
                                   REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL, label_selector=selector)
        return list(listing.get("items", []))

    async def put_report(self, report: dict[str, Any]) -> None:
        """Create the report, or replace the one there."""
        namespace, name = report["metadata"]["namespace"], report["metadata"]["name"]
        args = (REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL)
        try:
            current = await self._call("read policyreport", self.custom.get_namespaced_custom_object, *args, name)
        except ClusterError as exc:
            if not (isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 404):
                raise
            await self._call("create policyreport", self.custom.create_namespaced_custom_object, *args, report)
            return
        report = {**report, "metadata": {**report["metadata"],
                                         "resourceVersion": current["metadata"]["resourceVersion"]}}
        await self._call("replace policyreport", self.custom.replace_namespaced_custom_object, *args, name, report)

    async def delete_report(self, namespace: str, name: str) -> None:
        try:
            await self._call("delete policyreport", self.custom.delete_namespaced_custom_object,
                             REPORT_GROUP, REPORT_VERSION, namespace, REPORT_PLURAL, name)
        except ClusterError as exc:
            if not (isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 404):
                raise

    async def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        await self._call("create event", self.core.create_namespaced_event, namespace, event)


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
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 404:
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
            if isinstance(exc.__cause__, ApiException) and exc.__cause__.status == 409:
                return False
            raise
        return True
