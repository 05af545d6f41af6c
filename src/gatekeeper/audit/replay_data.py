"""What replay needs, as the store keeps it: OPA inputs and policy bundles, content-addressed.

An input is stored as its canonical JSON (types.canonical: sorted keys, no spaces, ASCII),
zlib-compressed, under `sha256:<hex>` of that JSON; the record names it (`input_digest`,
hashed with the rest of the record). Most of an input is the evidence of the models it
judges, which the next decision about the same models repeats: so an input is compressed
with an earlier stored input of the same models as zlib's preset dictionary (its `base`,
itself stored whole), which takes it from ~2.2 kB to a few hundred bytes (bench.replay_bench).
Each is kept as long as the newest record naming it, or naming an input based on it
(`last_time`): `audit prune` removes it with the record bodies. A bundle is the OPA bundle
of one policy revision, under the revision digest records carry, with the version of the
OPA that first evaluated it; it stays while any unpruned record names that revision.
Reading verifies: a stored input whose bytes no longer hash to its key is refused, naming it.
"""

from __future__ import annotations

import json
import zlib
from collections import OrderedDict
from datetime import datetime
from typing import Any, NamedTuple

from gatekeeper.types.canonical import canonical_json, sha256_of

# zlib's default level: within a few per cent of level 9's size on inputs, at half its CPU.
LEVEL = 6
# A base serves this many inputs, then the next input of those models becomes the new base
# (the evidence moves on: new sign-offs, a new drift report).
BASE_USES = 1000
# Models whose base is remembered (least recently used forgotten first): ~8 kB each.
BASES_KEPT = 1024


class StoredInput(NamedTuple):
    digest: str
    compressed: bytes
    time: datetime  # the record's: the input is pruned once every record naming it is
    base: str | None = None  # the input whose canonical JSON is zlib's dictionary for this one


class StoredBundle(NamedTuple):
    revision: str
    bundle: bytes  # OPA bundle, gzipped tar (opa.bundle)
    opa_version: str
    stored_at: datetime


class TamperedInput(ValueError):
    """A stored input whose content no longer matches its digest."""


class Packed(NamedTuple):
    stored: StoredInput
    text: bytes  # the canonical JSON
    key: str  # which inputs share a base (_key)


class Bases:
    """The base input of each set of models, for compressing the next inputs about them.

    A base becomes one only once its own batch is committed (`committed`), so an input is
    never stored against a base that is not in the store.
    """

    def __init__(self) -> None:
        self._bases: OrderedDict[str, tuple[str, bytes, int]] = OrderedDict()  # key -> digest, text, uses

    def pack(self, input_doc: dict[str, Any], time: datetime) -> Packed:
        text = canonical_json(input_doc)
        digest = sha256_of(text)
        key = _key(input_doc)
        base = self._bases.get(key)
        if base is None or base[2] >= BASE_USES or base[0] == digest:
            return Packed(StoredInput(digest, zlib.compress(text, LEVEL), time), text, key)
        packer = zlib.compressobj(LEVEL, zdict=base[1])
        return Packed(StoredInput(digest, packer.compress(text) + packer.flush(), time, base[0]), text, key)

    def committed(self, packed: Packed) -> None:
        stored, text, key = packed
        if stored.base is None:
            self._bases[key] = (stored.digest, text, 0)
            if len(self._bases) > BASES_KEPT:
                self._bases.popitem(last=False)
        elif key in self._bases and self._bases[key][0] == stored.base:
            digest, base_text, uses = self._bases[key]
            self._bases[key] = (digest, base_text, uses + 1)
        if key in self._bases:
            self._bases.move_to_end(key)


def _key(input_doc: dict[str, Any]) -> str:
    """Inputs about the same models in the same environment share most of their text."""
    models = input_doc.get("models")
    refs = [m.get("ref") for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    return canonical_json([input_doc.get("environment"), refs]).decode()


def unpack(digest: str, compressed: bytes, base: bytes | None = None) -> bytes:
    """The canonical JSON stored under `digest` (`base`: its base's, already checked),
    after checking it still hashes to the digest."""
    try:
        unpacker = zlib.decompressobj(zdict=base) if base is not None else zlib.decompressobj()
        text = unpacker.decompress(compressed) + unpacker.flush()
    except zlib.error:
        raise TamperedInput(f"the stored input {digest} was changed: it is not zlib data") from None
    if sha256_of(text) != digest:
        raise TamperedInput(f"the stored input {digest} was changed: its content does not match its digest")
    return text


def document(digest: str, text: bytes) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise TamperedInput(f"the stored input {digest} is not a JSON object")
    return value
