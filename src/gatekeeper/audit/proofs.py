"""Inclusion-proof files (`gatekeeper audit prove`) and their offline check (`audit verify-proof`).

A file holds everything needed to check one decision with nothing but the log's verifier key:
the record's stored text (the leaf), its leaf index, the RFC 9162 inclusion proof and the
newest signed checkpoint with the witnesses' cosignatures.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from gatekeeper.audit import merkle
from gatekeeper.audit.checkpoints import Stored
from gatekeeper.audit.note import Checkpoint, Note, NoteError, Verifier

FORMAT = "model-gatekeeper/audit-proof/v1"


class InvalidProof(Exception):
    """The proof does not hold; the message is the one line saying what failed."""


def with_cosignatures(stored: Stored) -> str:
    """The stored checkpoint's note with the witnesses' cosignature lines added."""
    return Note.parse(stored.note).with_lines(stored.cosignatures)


def proof_document(decision_id: str, seq: int, body: str, checkpoint: Stored, proof: list[bytes]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "decision_id": decision_id,
        "leaf_index": seq - 1,
        "record": body,
        "tree_size": checkpoint.size,
        "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": with_cosignatures(checkpoint),
    }


@dataclass(frozen=True)
class Verified:
    decision_id: str
    leaf_index: int
    checkpoint: Checkpoint
    witnesses: list[str]  # names of the witnesses whose cosignature verified


def open_checkpoint(note_text: str, log_key: Verifier) -> tuple[Note, Checkpoint]:
    """A signed checkpoint the log key signed; raises InvalidProof."""
    try:
        note = Note.parse(note_text)
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        raise InvalidProof(f"the checkpoint is malformed: {exc}") from None
    if not note.signed_by(log_key):
        raise InvalidProof(f"the checkpoint is not signed by the log key {log_key.name}")
    return note, checkpoint


def verify_proof(text: str, log_key: Verifier, witness_keys: list[Verifier], min_witnesses: int) -> Verified:
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise InvalidProof(f"not a proof file (format {FORMAT})")
        record, index, size = doc["record"], doc["leaf_index"], doc["tree_size"]
        proof = [base64.b64decode(h, validate=True) for h in doc["inclusion_proof"]]
        note_text, decision_id = doc["checkpoint"], doc["decision_id"]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InvalidProof(f"not a proof file: {type(exc).__name__}: {exc}") from None
    if not isinstance(record, str) or not isinstance(index, int) or not isinstance(note_text, str):
        raise InvalidProof("not a proof file: record, leaf_index or checkpoint has the wrong type")
    note, checkpoint = open_checkpoint(note_text, log_key)
    if checkpoint.size != size:
        raise InvalidProof(f"the proof is for a tree of {size} records but the checkpoint is of {checkpoint.size}")
    try:
        content = json.loads(record)
    except ValueError:
        raise InvalidProof("the record is not JSON") from None
    if not isinstance(content, dict) or content.get("decision_id") != decision_id or content.get("seq") != index + 1:
        raise InvalidProof(f"the record is not decision {decision_id} at leaf {index}")
    try:
        merkle.verify_inclusion(merkle.leaf_hash(record.encode("utf-8", "surrogatepass")), index, size, proof,
                                checkpoint.root)
    except merkle.ProofError as exc:
        raise InvalidProof(f"the record is not in the signed tree: {exc}") from None
    cosigned = [w.name for w in witness_keys if note.cosigned_by(w) is not None]
    if len(cosigned) < min_witnesses:
        raise InvalidProof(f"{len(cosigned)} of the given witnesses cosigned the checkpoint, {min_witnesses} required")
    return Verified(decision_id, index, checkpoint, cosigned)
