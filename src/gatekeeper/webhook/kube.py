"""The webhook's one door to the Kubernetes API: read-only GETs (a namespace's labels, an
object by name), through the `kubernetes` client, synchronous, in a thread so the event
loop keeps serving. deploy/'s RBAC grants exactly these reads.

Which cluster is `gatekeeper serve`'s choice (cli/serve.py: --kubeconfig, KUBECONFIG, else
in a cluster the pod's service account), one ApiClient for every reader of the gate; with
none there is no API, and what needs it fails closed (the owner look-up) or takes the
strictest default (a namespace's environment).
"""

from __future__ import annotations

from typing import Any

TIMEOUT_S = 1.0  # per call, well inside the review's budget


class KubeError(RuntimeError):
    """The Kubernetes API did not answer: unreachable, or an error status (its message kept)."""


class KubeApi:
    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self.api_client = api_client  # kubernetes.client.ApiClient
        self.core = client.CoreV1Api(api_client)
        # Any group's objects as plain JSON, apps/v1 and batch/v1 included (their paths have
        # the same shape); the client quotes each path segment (a name comes from the review).
        self.custom = client.CustomObjectsApi(api_client)

    async def namespace_labels(self, name: str) -> dict[str, str]:
        found = await self._call(f"read namespace {name}", self.core.read_namespace, name)
        return dict(found.metadata.labels or {})

    async def read(self, group: str, version: str, resource: str, namespace: str | None,
                   name: str) -> dict[str, Any] | None:
        """GET one object of an API group as JSON, namespaced or cluster-scoped; None when it
        does not exist. (The webhook reads no core-group object but namespaces.)"""
        what = f"get {resource}.{group or 'core'}/{version} {namespace + '/' if namespace else ''}{name}"
        if not group:
            raise KubeError(f"{what}: the webhook reads no core-group objects but namespaces")
        if namespace:
            call, args = self.custom.get_namespaced_custom_object, (group, version, namespace, resource, name)
        else:
            call, args = self.custom.get_cluster_custom_object, (group, version, resource, name)
        try:
            return await self._call(what, call, *args)  # type: ignore[no-any-return]
        except KubeError as exc:
            if getattr(exc.__cause__, "status", None) == 404:
                return None
            raise

    async def _call(self, what: str, fn: Any, *args: Any) -> Any:
        from gatekeeper.kubeapi import call

        return await call(what, fn, *args, timeout=TIMEOUT_S, error=KubeError)
