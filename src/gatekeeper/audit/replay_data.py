"""What replay needs, as the store keeps it: OPA inputs and policy bundles, content-addressed.

An input is stored as its canonical JSON (types.canonical: sorted keys, no spaces, ASCII),
zlib-compressed, under `sha256:<hex>` of that JSON; the record names it (`input_digest`,
hashed with the rest of the record). Each is kept as long as the newest record naming it
(`last_time`): `audit prune` removes it with the record bodies. A bundle is the OPA bundle
of one policy revision, under the revision digest records carry, with the version of the
OPA that first evaluated it; it stays while any unpruned record names that revision.
Reading verifies: a stored input whose bytes no longer hash to its key is refused, naming it.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime
from typing import Any, NamedTuple

from gatekeeper.types.canonical import canonical_json, sha256_of

# zlib's default level: within a few per cent of level 9's size on inputs, at half its CPU.
LEVEL = 6


class StoredInput(NamedTuple):
    digest: str
    compressed: bytes
    time: datetime  # the record's: the input is pruned once every record naming it is


class StoredBundle(NamedTuple):
    revision: str
    bundle: bytes  # OPA bundle, gzipped tar (opa.bundle)
    opa_version: str
    stored_at: datetime


class TamperedInput(ValueError):
    """A stored input whose content no longer matches its digest."""


def pack(input_doc: dict[str, Any], time: datetime) -> StoredInput:
    text = canonical_json(input_doc)
    return StoredInput(sha256_of(text), zlib.compress(text, LEVEL), time)


def unpack(digest: str, compressed: bytes) -> dict[str, Any]:
    """The input stored under `digest`, after checking its bytes still hash to it."""
    try:
        text = zlib.decompress(compressed)
    except zlib.error:
        raise TamperedInput(f"the stored input {digest} was changed: it is not zlib data") from None
    if sha256_of(text) != digest:
        raise TamperedInput(f"the stored input {digest} was changed: its content does not match its digest")
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TamperedInput(f"the stored input {digest} is not a JSON object")
    return value
