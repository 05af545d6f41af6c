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
from urllib.parse import quote

from gatekeeper.config import Settings

# The `kubernetes` client is imported when a cluster is named: a gate without one never loads it.

TIMEOUT_S = 1.0  # per call, well inside the review's budget


class ClusterAccessError(ValueError):
    """A cluster is named, but its configuration cannot be read (token, CA, kubeconfig)."""


class KubeError(RuntimeError):
    """The Kubernetes API did not answer: unreachable, or an error status (its message kept)."""


class KubeApi:
    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client  # kubernetes.client.ApiClient

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
        found = await self.read("", "v1", "namespaces", None, name)
        if found is None:
            raise KubeError(f"namespace {name} not found")
        labels = (found.get("metadata") or {}).get("labels")
        return dict(labels) if isinstance(labels, dict) else {}

    async def read(self, group: str, version: str, resource: str, namespace: str | None,
                   name: str) -> dict[str, Any] | None:
        """GET one object as JSON (any group, namespaced or not); None when it does not exist.
        Every path segment is quoted: a name comes from the object under review."""
        segments = ["api", version] if not group else ["apis", group, version]
        if namespace:
            segments += ["namespaces", namespace]
        path = "/" + "/".join(quote(s, safe="") for s in (*segments, resource, name))
        from kubernetes.client.rest import ApiException

        try:
            return await asyncio.to_thread(self._get, path)  # type: ignore[no-any-return]
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise KubeError(f"GET {path}: HTTP {exc.status} {exc.reason}{_status_message(exc)}") from exc
        except Exception as exc:  # noqa: BLE001 - urllib3/socket errors: the API is unreachable
            raise KubeError(f"GET {path}: {type(exc).__name__}: {exc}") from exc

    def _get(self, path: str) -> Any:
        return self.api_client.call_api(path, "GET", header_params={"Accept": "application/json"},
                                        auth_settings=["BearerToken"], response_type="object",
                                        _return_http_data_only=True, _request_timeout=TIMEOUT_S)


def _status_message(exc: Any) -> str:
    """`: <message>` of the API server's Status, when it gave one."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (ValueError, AttributeError):
        return ""
    return f": {message}" if message else ""
