"""Is the controller an object names real? (README "Owners")

A Pod, ReplicaSet or Job a controller of the serving table owns, and a Deployment or
StatefulSet a serving or owner-only kind owns, is judged through that owner. But an
ownerReferences entry is written by whoever creates the object: a made-up one would exempt
a model server until the garbage collector notices (and it serves meanwhile). So at
admission the gate reads the owner from the Kubernetes API and exempts the object only when
an object of that kind, name and uid exists. A reference counts only in the requests of
the controllers the owner's row names (the table's `controllers`: Kubernetes' own for the
built-in template kinds, each operator's service account for its kinds): anyone else's
object is judged as if unowned without asking (`made_by_hand`), and a row naming none
exempts nothing (workloads.served_models). The front door that can reach the API gives
the reader (`webhook.kube`); the pipeline never imports a Kubernetes client.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from gatekeeper.pipeline.serving import Owner, ServingKinds
from gatekeeper.pipeline.workloads import served_models


class OwnerUnconfirmed(RuntimeError):
    """The Kubernetes API could not say whether the owner exists: the gate fails closed."""


class ObjectReader(Protocol):
    async def read(self, group: str, version: str, resource: str, namespace: str | None,
                   name: str) -> dict[str, Any] | None:
        """The object as JSON; None when it does not exist. Raises when the API did not answer."""


class Owners:
    """Confirms owners through `reader` (None: no API to ask), each answer kept `ttl`
    seconds by uid: a controller's children arrive in bursts, and a uid never changes owner."""

    MAX_CACHED = 4096

    def __init__(self, reader: ObjectReader | None, ttl: float = 30.0) -> None:
        self.reader = reader
        self.ttl = ttl
        self._seen: dict[tuple[str, str, str | None, str, str], tuple[float, bool]] = {}

    async def confirm(self, owner: Owner, kinds: ServingKinds) -> bool:
        """True when the owner exists with the uid the reference names and its own judgement
        covers the object: an owner-only kind, or an owner the gate judges as serving a
        model. False when it is forged (missing, another object by that name) or real but
        ordinary: a ReplicaSet of busybox made to own a vLLM Pod covers nothing, so the Pod
        is judged itself. Raises OwnerUnconfirmed."""
        row = owner.row
        what = f"{owner.display()} (uid {owner.uid or 'none'})"
        if self.reader is None:
            raise OwnerUnconfirmed(f"no Kubernetes API is configured to confirm the owner {what}")
        if not (owner.uid and owner.name and row.resource and (owner.namespace or row.cluster_scoped)):
            return False  # the API server never writes such a reference: nothing to ask
        key = (row.group, row.kind, owner.namespace, owner.name, owner.uid)
        hit = self._seen.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            found = await self.reader.read(row.group, owner.version, row.resource, owner.namespace, owner.name)
        except Exception as exc:  # noqa: BLE001 - whatever the client raised, the API did not answer
            raise OwnerUnconfirmed(f"the Kubernetes API could not confirm the owner {what}: {exc}") from exc
        metadata = (found or {}).get("metadata")
        real = isinstance(metadata, dict) and metadata.get("uid") == owner.uid and _covers(found or {}, owner, kinds)
        if len(self._seen) >= self.MAX_CACHED:
            self._seen.clear()
        self._seen[key] = (time.monotonic() + self.ttl, real)
        return real


def made_by_hand(owner: Owner, obj: dict[str, Any], old: dict[str, Any] | None, user: str | None) -> bool:
    """Does `user`'s request put under `owner` something its controllers did not make? When
    `user` is none of the controllers its row names (a CLI run names no user): a CREATE, an
    UPDATE adding the reference, or an UPDATE changing what the object runs (its spec, but
    for containers added later: `kubectl debug` on a controller's Pod keeps its owner)."""
    if owner.row.creates_children(user):
        return False
    if old is None or not _names_controller(old, owner.uid):
        return True
    later = {path[1] for path in owner.owned.added_later if len(path) > 1 and path[0] == "spec"}

    def runs(o: dict[str, Any]) -> Any:
        spec = o.get("spec")
        return {k: v for k, v in spec.items() if k not in later} if isinstance(spec, dict) else spec

    return bool(runs(obj) != runs(old))


def _names_controller(obj: dict[str, Any], uid: str) -> bool:
    meta = obj.get("metadata")
    refs = meta.get("ownerReferences") if isinstance(meta, dict) else None
    return bool(uid) and isinstance(refs, list) and any(
        isinstance(r, dict) and r.get("controller") is True and r.get("uid") == uid for r in refs)


def _covers(found: dict[str, Any], owner: Owner, kinds: ServingKinds) -> bool:
    """Was the owner itself judged as serving a model (as if it had no owner of its own:
    a Deployment's ReplicaSet carries the Deployment's template)?"""
    if owner.row.serves == "owner-only":
        return True
    metadata = {k: v for k, v in found.get("metadata", {}).items() if k != "ownerReferences"}
    api_version = f"{owner.row.group}/{owner.version}" if owner.row.group else owner.version
    return served_models({**found, "apiVersion": api_version, "kind": owner.row.kind, "metadata": metadata},
                         kinds).gated
