"""Which checkpoint to sign next, and never one that contradicts the last.

Both stores call `next_checkpoint` inside a transaction that holds their lock for signing
(so replicas sharing one database sign one sequence), with the tree head and the stored
hashes of the newest checkpoint's size read in that same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from gatekeeper.audit import merkle
from gatekeeper.audit.tree import TreeHead


class Stored(NamedTuple):
    """A signed checkpoint as stored: its size, root, the signed note, cosignature lines."""

    size: int
    root: bytes
    note: str
    cosignatures: list[str] = []


class InconsistentTree(Exception):
    """The stored tree no longer holds the newest checkpoint: it was edited. Never signed over."""


def next_checkpoint(head: TreeHead, newest: Stored | None, stored: Mapping[merkle.Node, bytes],
                    sign: Callable[[int, bytes], str]) -> Stored | None:
    """The checkpoint to store now, or None when the tree has not grown since the newest.

    `stored`: the subtree hashes of the newest checkpoint's size (merkle.nodes_of)."""
    if head.size == 0 or (newest is not None and head.size <= newest.size):
        if newest is not None and head.size < newest.size:
            raise InconsistentTree(f"the tree holds {head.size} records, fewer than the signed checkpoint of "
                                   f"size {newest.size}: refusing to sign")
        return None
    if newest is not None and newest.size and merkle.hash_of_range(0, newest.size, stored) != newest.root:
        raise InconsistentTree(f"the stored tree no longer has the root of the signed checkpoint of size "
                               f"{newest.size}: refusing to sign")
    return Stored(head.size, head.root, sign(head.size, head.root), [])
