"""Canonical JSON and sha256 digests: the one spelling of every digest the gate computes.

Canonical JSON is sorted keys, no spaces and ASCII only (non-ASCII characters escaped), so
the same document gives the same bytes on any machine, in any database encoding. Digests
are written `sha256:<hex>`, the form the evidence schema uses for artifacts and datasets.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

Separators = tuple[str, str]
COMPACT: Separators = (",", ":")
# json.dumps's own default. Only for a value that is already stored with these bytes and
# must keep them (say so where it is passed); everything new uses COMPACT.
SPACED: Separators = (", ", ": ")


def canonical_json(obj: Any, *, separators: Separators = COMPACT) -> bytes:
    """`obj` as canonical JSON bytes (sorted keys, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=separators, ensure_ascii=True).encode("ascii")


def sha256_hex(*chunks: bytes) -> str:
    """The bare hex sha256 of the chunks, concatenated."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of(*chunks: bytes) -> str:
    """`sha256:<hex>` of the chunks, concatenated."""
    return "sha256:" + sha256_hex(*chunks)


def sha256_digest(
    obj: Any, *, files: Mapping[str, bytes | None] | None = None, separators: Separators = COMPACT
) -> str:
    """`sha256:<hex>` of a document and, optionally, the files it refers to.

    The hash covers canonical_json(obj), then for each file in path order `\\0<path>\\0`
    followed by the raw sha256 of its content, or `absent` when the file is not there (so
    a file appearing, vanishing or changing changes the digest).
    """
    chunks = [canonical_json(obj, separators=separators)]
    for path in sorted(files or {}):
        content = (files or {})[path]
        chunks.append(f"\0{path}\0".encode())
        chunks.append(hashlib.sha256(content).digest() if content is not None else b"absent")
    return sha256_of(*chunks)
