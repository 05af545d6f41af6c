"""The environment of a namespace, from its `model-gatekeeper.io/environment` label.

Used by `POST /validate` (no environment in the path). With no cluster to ask, the
strictest environment applies.
"""

from __future__ import annotations

import asyncio
import os
import time

from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL

DEFAULT_ENVIRONMENT = "production"


class NamespaceEnvironments:
    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}
        self._api = None
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            from kubernetes import client, config  # only inside a cluster

            config.load_incluster_config()
            self._api = client.CoreV1Api()

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
