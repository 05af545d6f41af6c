"""The decision log's Merkle tree: RFC 6962 hashing, RFC 9162 proofs and their verification.

Pure functions, no storage. A tree is kept as the hashes of its complete subtrees, each
named (level, index): the subtree over leaves [index * 2**level, (index + 1) * 2**level).
Those never change once the tree has grown past them, so a store writes each once and
any tree head or proof of any size needs only O(log n) of them (the approach of Go's
sumdb/tlog "stored hashes"). Proofs are computed in two steps so a store reads all the
hashes one proof needs in one query: `*_ranges` says which leaf ranges' hashes make up
the proof, `nodes_of` which stored hashes those need, `hash_of_range` folds them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [lo, hi)


class ProofError(ValueError):
    """A proof that does not prove what it claims; the message says why."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def range_nodes(lo: int, hi: int) -> list[Node]:
    """The complete subtrees, largest first, that RFC 6962 splits [lo, hi) into.

    Every range the RFC's recursions reach starts at a multiple of its largest complete
    part, so this is one node per set bit of hi - lo."""
    nodes = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo % (1 << level):
            raise ValueError(f"leaves [{lo}, {hi}) are not a subtree of the RFC 6962 tree")
        nodes.append((level, lo >> level))
        lo += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from its complete subtrees' hashes (largest first): right to left."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def nodes_of(ranges: Iterable[Range]) -> list[Node]:
    """Every stored hash the ranges need, each once, in a stable order."""
    return list(dict.fromkeys(node for lo, hi in ranges for node in range_nodes(lo, hi)))


def hash_of_range(lo: int, hi: int, stored: Mapping[Node, bytes]) -> bytes:
    return fold([stored[node] for node in range_nodes(lo, hi)])


def resolve(ranges: Sequence[Range], stored: Mapping[Node, bytes]) -> list[bytes]:
    return [hash_of_range(lo, hi, stored) for lo, hi in ranges]


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), as the leaf ranges of its hashes, leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo += k
    return path[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """RFC 9162 §2.1.4.1 PROOF(old, D[0:new]) as leaf ranges; empty for old == 0 or old == new."""
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from {old} leaves to {new}")
    if old in (0, new):
        return []
    proof: list[Range] = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            proof.append((lo + k, hi))
            hi = lo + k
        else:
            proof.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append((lo, hi))
    return proof[::-1]


def frontier_nodes(size: int) -> list[Node]:
    """The complete subtrees a tree of `size` leaves is made of (what appending needs)."""
    return range_nodes(0, size)


def append(size: int, frontier: list[bytes], leaf_hashes: Iterable[bytes]) -> tuple[int, list[bytes], list[tuple[int, int, bytes]]]:
    """Grow a tree: its new size, new frontier and the (level, index, hash) to store."""
    frontier = list(frontier)
    levels = [level for level, _ in frontier_nodes(size)]
    entries = []
    for h in leaf_hashes:
        level, index = 0, size
        entries.append((0, index, h))
        while levels and levels[-1] == level:
            levels.pop()
            h = node_hash(frontier.pop(), h)
            level, index = level + 1, index >> 1
            entries.append((level, index, h))
        levels.append(level)
        frontier.append(h)
        size += 1
    return size, frontier, entries


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2 for a leaf hash; raises ProofError."""
    _check_hashes([leaf, *proof])
    if index >= size or index < 0:
        raise ProofError(f"leaf index {index} is not below the tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the root hash")


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2: the tree of `new` leaves extends the one of `old`; raises ProofError."""
    _check_hashes(proof)
    if old < 0 or old > new:
        raise ProofError(f"a tree of {old} leaves cannot be extended by one of {new}")
    if old == 0:
        # Every tree extends the empty one: such a "proof" proves nothing, so it is refused
        # (as transparency-dev's verifier does) rather than mistaken for a check.
        raise ProofError("a consistency proof from the empty tree proves nothing")
    if old == new:
        if proof:
            raise ProofError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError(f"two different root hashes for the same size {old}")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old & (old - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the root hash of size {old}")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the root hash of size {new}")


def _check_hashes(hashes: Iterable[bytes]) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a hash in the proof is not 32 bytes long")


class Hasher:
    """Streaming tree head over leaves fed in order; memory O(log n) whatever the log's size."""

    def __init__(self) -> None:
        self.size = 0
        self._frontier: list[bytes] = []

    def add(self, leaf_hash_: bytes) -> None:
        # The new leaf completes as many subtrees as the new size has trailing zero bits.
        self.size += 1
        self._frontier.append(leaf_hash_)
        completed = self.size
        while not completed & 1:
            right = self._frontier.pop()
            self._frontier.append(node_hash(self._frontier.pop(), right))
            completed >>= 1

    def root(self) -> bytes:
        return fold(self._frontier)
