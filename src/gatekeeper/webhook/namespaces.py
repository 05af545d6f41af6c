"""The environment of a namespace, from its `model-gatekeeper.io/environment` label.

Used by `POST /validate` (no environment in the path). With no cluster to ask, the
strictest environment applies.
"""

from __future__ import annotations

import asyncio
import os
import time

from gatekeeper.config import Settings
from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL

DEFAULT_ENVIRONMENT = "production"


class ClusterAccessError(ValueError):
    """Inside a cluster, but the service account's token or CA cannot be read."""


class NamespaceEnvironments:
    def __init__(self, settings: Settings, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}
        self._api = None
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            self._api = _core_api(settings)

    async def environment_of(self, namespace: str | None) -> str:
        if self._api is None or not namespace:
            return DEFAULT_ENVIRONMENT
        hit = self._cache.get(namespace)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            ns = await asyncio.to_thread(self._api.read_namespace, namespace, _request_timeout=1)
            environment = (ns.metadata.labels or {}).get(ENVIRONMENT_LABEL, DEFAULT_ENVIRONMENT)
        except Exception:  # noqa: BLE001 - an API failure must not admit: fall back to the strictest
            return DEFAULT_ENVIRONMENT
        self._cache[namespace] = (time.monotonic() + self.ttl, environment)
        return environment


def _core_api(settings: Settings):  # noqa: ANN202 - the client's generated type
    # The client's own in-cluster loader (KUBERNETES_SERVICE_HOST/PORT), with the token and
    # CA paths from Settings; it re-reads the token file every minute, as bound
    # service-account tokens are rotated by the kubelet.
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.incluster_config import InClusterConfigLoader

    configuration = client.Configuration()
    try:
        InClusterConfigLoader(token_filename=str(settings.kube_token_file),
                              cert_filename=str(settings.kube_ca_file)).load_and_set(configuration)
    except ConfigException as exc:
        raise ClusterAccessError(f"KUBERNETES_SERVICE_HOST is set but the cluster cannot be reached as this pod's "
                                 f"service account: {exc}") from None
    return client.CoreV1Api(client.ApiClient(configuration))
