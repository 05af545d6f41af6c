"""The webhook's one door to the Kubernetes API: read-only GETs (a namespace's labels, an
object by name), through the `kubernetes` client, synchronous, in a thread so the event
loop keeps serving. deploy/'s RBAC grants exactly these reads.

Which cluster: a kubeconfig when Settings names one (GATEKEEPER_KUBECONFIG: a gate run
outside the cluster it admits for), else this pod's service account inside a cluster
(KUBERNETES_SERVICE_HOST), else none: `connect` returns None and what needs the API (the
owner look-up) fails closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from gatekeeper.config import Settings

# The `kubernetes` client is imported when a cluster is named: a gate without one never loads it.

TIMEOUT_S = 1.0  # per call, well inside the review's budget


class ClusterAccessError(ValueError):
    """A cluster is named, but its configuration cannot be read (token, CA, kubeconfig)."""


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

    @classmethod
    def connect(cls, settings: Settings, in_cluster: bool) -> KubeApi | None:
        if settings.kubeconfig:
            from kubernetes import config

            try:
                return cls(config.new_client_from_config(config_file=str(settings.kubeconfig)))
            except Exception as exc:  # noqa: BLE001 - a missing file, a bad context: say which
                raise ClusterAccessError(f"kubeconfig {settings.kubeconfig}: {exc}") from None
        if not in_cluster:
            return None
        from kubernetes import client

        # The client's own in-cluster loader (KUBERNETES_SERVICE_HOST/PORT), with the token and
        # CA paths from Settings; it re-reads the token file every minute, as bound
        # service-account tokens are rotated by the kubelet.
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.config.incluster_config import InClusterConfigLoader

        configuration = client.Configuration()
        try:
            InClusterConfigLoader(token_filename=str(settings.kube_token_file),
                                  cert_filename=str(settings.kube_ca_file)).load_and_set(configuration)
        except ConfigException as exc:
            raise ClusterAccessError(f"KUBERNETES_SERVICE_HOST is set but the cluster cannot be reached as this "
                                     f"pod's service account: {exc}") from None
        return cls(client.ApiClient(configuration))

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
        from kubernetes.client.rest import ApiException

        try:
            return await asyncio.to_thread(fn, *args, _request_timeout=TIMEOUT_S)
        except ApiException as exc:
            raise KubeError(f"{what}: HTTP {exc.status} {exc.reason}{_status_message(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - urllib3/socket errors: the API is unreachable
            raise KubeError(f"{what}: {type(exc).__name__}: {exc}") from exc


def _status_message(exc: Any) -> str:
    """`: <message>` of the API server's Status, when it gave one."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""
