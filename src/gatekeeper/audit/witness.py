"""Submitting checkpoints to witnesses: the client side of C2SP tlog-witness `add-checkpoint`.

A witness cosigns a checkpoint only if it is consistent with the last one it cosigned for
our origin, so each request carries the consistency proof from that size. We remember the
size per witness; when we do not know it (first contact, another replica moved it on) the
witness answers 409 with its size and we ask again with the right proof, once.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from gatekeeper.audit.note import Note, NoteError, Verifier

TIMEOUT_S = 5.0


class WitnessError(Exception):
    """The witness did not cosign; the message says why (and whether it will on retry)."""


@dataclass
class Witness:
    url: str
    key: Verifier
    known_size: int = 0
    cosigned_at: dict[int, int] = field(default_factory=dict)  # checkpoint size -> cosignature time

    @classmethod
    def parse(cls, spec: str) -> Witness:
        """URL=VKEY, as --witness takes it."""
        url, sep, vkey = spec.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise NoteError(f"{spec!r}: expected URL=VERIFIER_KEY")
        return cls(url.rstrip("/"), Verifier.parse(vkey))


class Proofs(Protocol):
    async def consistency_proof(self, old: int, new: int) -> list[bytes]: ...


async def add_checkpoint(client: httpx.AsyncClient, witness: Witness, note: str, size: int, proofs: Proofs) -> str:
    """The witness's cosignature line for this signed checkpoint; raises WitnessError."""
    for _ in range(2):
        old = witness.known_size if witness.known_size <= size else 0
        proof = await proofs.consistency_proof(old, size) if old else []
        body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note
        try:
            answer = await client.post(f"{witness.url}/add-checkpoint", content=body.encode(), timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise WitnessError(f"witness {witness.url} unreachable: {type(exc).__name__}: {exc}") from None
        if answer.status_code == 409 and answer.text.strip().isdigit():
            # Its last cosigned size is not what we thought: ask again from there.
            witness.known_size = int(answer.text.strip())
            if witness.known_size > size:
                raise WitnessError(f"witness {witness.url} has cosigned a larger tree ({witness.known_size}) than "
                                   f"this checkpoint ({size})")
            continue
        if answer.status_code == 422:
            raise WitnessError(f"witness {witness.url} refused the checkpoint of size {size} as inconsistent with "
                               f"the size {old} it cosigned (422): {answer.text.strip()}")
        if answer.status_code != 200:
            raise WitnessError(f"witness {witness.url} answered {answer.status_code}: {answer.text.strip()[:200]}")
        line, timestamp = _cosignature(witness, note, answer.text)
        witness.known_size = size
        witness.cosigned_at[size] = timestamp
        return line
    raise WitnessError(f"witness {witness.url} kept answering 409")


def _cosignature(witness: Witness, note: str, lines: str) -> tuple[str, int]:
    """The answer's line that is a valid cosignature by the witness's key, and its time."""
    text = Note.parse(note).text
    for line in lines.splitlines(keepends=True):
        try:
            timestamp = Note.parse(text + "\n" + line).cosigned_by(witness.key)
        except NoteError:
            continue
        if timestamp is not None:
            return line, timestamp
    raise WitnessError(f"witness {witness.url} answered without a valid cosignature from {witness.key.name}")
