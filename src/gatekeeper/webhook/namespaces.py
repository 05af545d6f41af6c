"""The environment of a namespace, from its `model-gatekeeper.io/environment` label.

Used by `POST /validate` (no environment in the path). With no cluster to ask, the
strictest environment applies.
"""

from __future__ import annotations

import time

from gatekeeper.pipeline.workloads import ENVIRONMENT_LABEL
from gatekeeper.webhook.kube import KubeApi

DEFAULT_ENVIRONMENT = "production"


class NamespaceEnvironments:
    def __init__(self, api: KubeApi | None, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._cache: dict[str, tuple[float, str]] = {}
        self._api = api

    async def environment_of(self, namespace: str | None) -> str:
        if self._api is None or not namespace:
            return DEFAULT_ENVIRONMENT
        hit = self._cache.get(namespace)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            environment = (await self._api.namespace_labels(namespace)).get(ENVIRONMENT_LABEL, DEFAULT_ENVIRONMENT)
        except Exception:  # noqa: BLE001 - an API failure must not admit: fall back to the strictest
            return DEFAULT_ENVIRONMENT
        self._cache[namespace] = (time.monotonic() + self.ttl, environment)
        return environment
