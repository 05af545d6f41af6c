"""The Merkle tree against published vectors: Certificate Transparency's tree (RFC 6962) and
transparency-dev/merkle's inclusion and consistency proof cases (tests/audit/vectors)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gatekeeper.audit import merkle

VECTORS = Path(__file__).parent / "vectors"
CT = json.loads((VECTORS / "rfc6962.json").read_text())
LEAVES = [bytes.fromhex(h) for h in CT["leaves"]]
INCLUSION = json.loads((VECTORS / "inclusion.json").read_text())["cases"]
CONSISTENCY = json.loads((VECTORS / "consistency.json").read_text())["cases"]


def _b64(text: str) -> bytes:
    return base64.b64decode(text or "")


def _stored(leaves: list[bytes]) -> dict[merkle.Node, bytes]:
    size, frontier, entries = merkle.append(0, [], [merkle.leaf_hash(leaf) for leaf in leaves])
    assert size == len(leaves)
    return {(level, index): h for level, index, h in entries}


def test_root_of_every_prefix_of_the_ct_tree() -> None:
    for n in range(len(LEAVES) + 1):
        stored = _stored(LEAVES[:n])
        assert merkle.hash_of_range(0, n, stored).hex() == CT["roots"][n]


def test_stored_hashes_are_the_ct_node_hashes() -> None:
    stored = _stored(LEAVES)
    for level, hashes in enumerate(CT["levels"]):
        assert [stored[(level, i)].hex() for i in range(len(hashes))] == hashes
    assert len(stored) == sum(len(level) for level in CT["levels"])


def test_appending_in_batches_stores_the_same_hashes() -> None:
    size, frontier, first = merkle.append(0, [], [merkle.leaf_hash(x) for x in LEAVES[:3]])
    size, frontier, second = merkle.append(size, frontier, [merkle.leaf_hash(x) for x in LEAVES[3:]])
    assert {(lvl, i): h for lvl, i, h in first + second} == _stored(LEAVES)
    assert merkle.fold(frontier).hex() == CT["roots"][8]


@pytest.mark.parametrize("name", sorted(INCLUSION))
def test_inclusion_vectors(name: str) -> None:
    case = INCLUSION[name]
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], [_b64(p) for p in case["proof"] or []],
            _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("name", sorted(CONSISTENCY))
def test_consistency_vectors(name: str) -> None:
    case = CONSISTENCY[name]
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]),
            [_b64(p) for p in case["proof"] or []])
    if case["wantErr"]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def _happy(cases: dict, key: str) -> list[dict]:
    return [c for c in cases.values() if not c["wantErr"] and c.get(key, 0) <= 8 and c["proof"]]


def test_generated_inclusion_proofs_are_the_published_ones() -> None:
    stored = _stored(LEAVES)
    happy = [c for c in INCLUSION.values() if not c["wantErr"] and 0 < c["treeSize"] <= 8
             and _b64(c["root"]).hex() == CT["roots"][c["treeSize"]]]
    assert happy
    for case in happy:
        proof = merkle.resolve(merkle.inclusion_ranges(case["leafIdx"], case["treeSize"]), stored)
        assert proof == [_b64(p) for p in case["proof"] or []]


def test_generated_consistency_proofs_are_the_published_ones() -> None:
    stored = _stored(LEAVES)
    happy = [c for c in CONSISTENCY.values() if not c["wantErr"] and 0 < c["size1"] < c["size2"] <= 8
             and _b64(c["root2"]).hex() == CT["roots"][c["size2"]]]
    assert happy
    for case in happy:
        proof = merkle.resolve(merkle.consistency_ranges(case["size1"], case["size2"]), stored)
        assert proof == [_b64(p) for p in case["proof"]]


def test_every_generated_proof_verifies_and_names_what_a_wrong_one_breaks() -> None:
    leaves = [f"record {i}".encode() for i in range(37)]
    stored = _stored(leaves)
    roots = [merkle.hash_of_range(0, n, stored) for n in range(len(leaves) + 1)]
    for n in range(1, len(leaves) + 1):
        for i in range(n):
            proof = merkle.resolve(merkle.inclusion_ranges(i, n), stored)
            merkle.verify_inclusion(merkle.leaf_hash(leaves[i]), i, n, proof, roots[n])
        for m in range(1, n + 1):
            merkle.verify_consistency(m, n, roots[m], roots[n], merkle.resolve(merkle.consistency_ranges(m, n), stored))
    proof = merkle.resolve(merkle.inclusion_ranges(5, 37), stored)
    with pytest.raises(merkle.ProofError, match="does not lead to the root hash"):
        merkle.verify_inclusion(merkle.leaf_hash(b"record 6"), 5, 37, proof, roots[37])
    with pytest.raises(merkle.ProofError, match="root hash of size 20"):
        merkle.verify_consistency(20, 37, roots[21], roots[37], merkle.resolve(merkle.consistency_ranges(20, 37), stored))


def test_streaming_hasher_matches_the_stored_tree() -> None:
    hasher = merkle.Hasher()
    for n, leaf in enumerate(LEAVES, start=1):
        hasher.add(merkle.leaf_hash(leaf))
        assert hasher.root().hex() == CT["roots"][n]
    assert merkle.Hasher().root() == merkle.EMPTY_ROOT
