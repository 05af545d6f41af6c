"""One active auditor among the gate's replicas, through a coordination.k8s.io Lease.

The holder renews the lease every cycle; another replica takes it over only once it has
not been renewed for `duration`. Time is the auditor's clock (injected), so tests move it.
Writes carry the resourceVersion read, so two replicas racing for an expired lease cannot
both win.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from gatekeeper.auditor.client import Leases

DEFAULT_DURATION = timedelta(seconds=60)


def _micro(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class Elector:
    def __init__(self, leases: Leases, namespace: str, identity: str, *, name: str = "model-gatekeeper-auditor",
                 duration: timedelta = DEFAULT_DURATION) -> None:
        self.leases, self.namespace, self.identity, self.name, self.duration = leases, namespace, identity, name, duration

    async def lead(self, now: datetime) -> bool:
        """True when this replica holds the lease after this call (taken or renewed)."""
        lease = await self.leases.read(self.namespace, self.name)
        spec = (lease or {}).get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime"))
        seconds = spec.get("leaseDurationSeconds") or int(self.duration.total_seconds())
        if holder and holder != self.identity and renewed and now < renewed + timedelta(seconds=seconds):
            return False  # another replica holds it and renewed it in time
        taken = holder != self.identity
        meta = {"name": self.name, "namespace": self.namespace}
        if lease:
            meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        body = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.duration.total_seconds()),
                "renewTime": _micro(now),
                "acquireTime": _micro(now) if taken else spec.get("acquireTime") or _micro(now),
                "leaseTransitions": (spec.get("leaseTransitions") or 0) + (1 if taken and holder else 0),
            },
        }
        return await self.leases.write(self.namespace, body)
