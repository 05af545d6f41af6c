"""The log's Merkle tree as both backends store it: leaves from record bodies, the tree head row.

Leaf i is record i+1's stored body (the exact canonical JSON text `audit export` prints), so
the tree needs nothing the chain does not already keep. Each backend keeps, in the same
transaction as the records, every complete subtree's hash (`audit_tree`, see merkle.py) and
one row with the tree's size and frontier (`audit_tree_head`): appending reads that row,
which the head lock already serialises, and the current root is a fold of the frontier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from gatekeeper.audit import merkle


class TreeHead(NamedTuple):
    size: int
    frontier: list[bytes]

    @property
    def root(self) -> bytes:
        return merkle.fold(self.frontier)


EMPTY = TreeHead(0, [])


def leaf_of(body: str) -> bytes:
    # Bodies are ASCII (canonical_json); an edited one may not be and must still hash.
    return merkle.leaf_hash(body.encode("utf-8", "surrogatepass"))


def grow(head: TreeHead, bodies: Iterable[str]) -> tuple[TreeHead, list[tuple[int, int, bytes]]]:
    """The tree after appending these record bodies, and the subtree hashes to store."""
    size, frontier, entries = merkle.append(head.size, head.frontier, (leaf_of(b) for b in bodies))
    return TreeHead(size, frontier), entries


def pack(frontier: list[bytes]) -> bytes:
    return b"".join(frontier)


def unpack(size: int, blob: bytes) -> TreeHead:
    frontier = [bytes(blob[i : i + merkle.HASH_SIZE]) for i in range(0, len(blob), merkle.HASH_SIZE)]
    if len(frontier) != size.bit_count():
        raise ValueError(f"the stored tree head of size {size} has {len(frontier)} frontier hashes")
    return TreeHead(size, frontier)
