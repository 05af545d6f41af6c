"""The hash chain: linking new records onto the head, and checking stored ones.

Each stored row keeps the exact canonical JSON that was hashed (`body`), so verification
hashes the stored text itself and does not depend on how a later pydantic or a later
AuditRecord (with new optional fields) would re-serialise an old record. The row's other
columns (seq, time, outcome, models, ...) are copies for indexing and filtering; `verify`
checks they still agree with the body, so a filter cannot be fooled by editing them.
The head (seq and hash of the last record) is kept in its own row, written in the same
transaction, so that removing the newest records is noticed too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel

from gatekeeper.audit import merkle, tree
from gatekeeper.audit.record import GENESIS_HASH, AuditRecord, canonical_json, labels_of, sha256_hex
from gatekeeper.audit.tree import TreeHead
from gatekeeper.types.decision import ObjectRef


class VerifyResult(BaseModel):
    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str | None = None


class Row(NamedTuple):
    """One stored record, as every backend hands it over."""

    seq: int
    decision_id: str
    time: datetime
    outcome: str
    models: list[str]
    prev_hash: str
    hash: str
    body: str  # "" once pruned (audit prune): the tree keeps its leaf hash
    leaf: bytes | None = None  # a pruned record's stored leaf hash, where a reader asked for it

    @property
    def pruned(self) -> bool:
        return self.body == PRUNED


PRUNED = ""
# The stored leaf hash of a pruned row, for the readers that check the tree (SQL, both stores).
LEAF_OF_PRUNED = ("CASE WHEN body = '' THEN (SELECT t.hash FROM audit_tree t"
                  " WHERE t.level = 0 AND t.idx = audit_records.seq - 1) END")


def link(contents: list[dict[str, Any]], head_seq: int, head_hash: str) -> list[Row]:
    """Chain records (their content without chain fields) onto the head, in order."""
    rows = []
    for content in contents:
        head_seq += 1
        content["seq"] = head_seq
        content["prev_hash"] = head_hash
        body = canonical_json(content)
        head_hash = sha256_hex(body)
        rows.append(
            Row(
                seq=head_seq,
                decision_id=content["decision_id"],
                time=datetime.fromisoformat(content["time"]),
                outcome=content["outcome"],
                models=labels_of(content),
                prev_hash=content["prev_hash"],
                hash=head_hash,
                body=body,
            )
        )
    return rows


def record_of(row: Row) -> AuditRecord:
    if row.pruned:
        # What the indexed columns still say; the rest went with the body.
        return AuditRecord.model_construct(
            decision_id=row.decision_id, time=row.time, outcome=row.outcome, object=ObjectRef(name="(pruned)"),
            environment="", models=[], allowed=row.outcome in ("admitted", "warned"), enforcement="", violations=[],
            waived=[], warnings=[], source="", seq=row.seq, prev_hash=row.prev_hash, hash=row.hash, pruned=True)
    return AuditRecord.model_validate_json(row.body).model_copy(update={"hash": row.hash})


class ChainVerifier:
    """Fed rows in seq order; remembers the first problem, counts every row."""

    def __init__(self, checkpoints: dict[int, bytes] | None = None) -> None:
        """checkpoints: the stored checkpoints' roots by size, each checked against the
        root of the records up to its size."""
        self._checkpoints = checkpoints or {}
        self.count = 0
        self.first_bad_seq: int | None = None
        self.reason: str | None = None
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH
        self.tree = merkle.Hasher()

    def feed(self, row: Row) -> None:
        self.count += 1
        if row.pruned:
            # Its body is gone by design; the tree's leaf hash stands in for it, and the
            # chain is still checked to link through it.
            self.tree.add(row.leaf or b"")
        else:
            self.tree.add(tree.leaf_of(row.body))
        if self.first_bad_seq is None:
            problem = self._check_pruned(row) if row.pruned else self._check(row)
            if problem:
                self.first_bad_seq, self.reason = problem
            elif self.tree.size in self._checkpoints and self._checkpoints[self.tree.size] != self.tree.root():
                self._fail(row.seq, f"records 1-{row.seq} do not match the signed checkpoint of size {row.seq}: "
                                    "the log was rewritten after it was signed")
        self._expected_seq = row.seq + 1
        self._prev_hash = row.hash

    def finish(self, head_seq: int, head_hash: str, tree_head: TreeHead | None = None) -> VerifyResult:
        """tree_head: the stored Merkle tree's, None for a log that has none yet (an older
        log opened read-only)."""
        if self.first_bad_seq is None:
            last = self._expected_seq - 1
            if head_seq > last:
                self._fail(last + 1, f"record {last + 1} is missing: the chain head says the log ends at record {head_seq}")
            elif head_seq < last:
                self._fail(head_seq + 1, f"record {head_seq + 1} is not covered by the chain head (head is record {head_seq})")
            elif head_hash != self._prev_hash:
                self._fail(last, f"record {last} does not match the chain head's hash")
            elif self._checkpoints and max(self._checkpoints) > self.count:
                self._fail(self.count + 1, f"records were removed: the signed checkpoint of size "
                                           f"{max(self._checkpoints)} covers more than the {self.count} records the log holds")
            elif tree_head is not None and tree_head.size != self.count:
                self._fail(min(tree_head.size, self.count) + 1,
                           f"the Merkle tree holds {tree_head.size} records but the log {self.count}")
            elif tree_head is not None and tree_head.root != self.tree.root():
                self._fail(last, "the Merkle tree's root does not match the records: the stored tree was edited")
        return VerifyResult(
            ok=self.first_bad_seq is None, count=self.count, first_bad_seq=self.first_bad_seq, reason=self.reason
        )

    def _fail(self, seq: int, reason: str) -> None:
        self.first_bad_seq, self.reason = seq, reason

    def _check_pruned(self, row: Row) -> tuple[int, str] | None:
        if row.seq != self._expected_seq:
            return self._expected_seq, f"record {self._expected_seq} is missing (the next stored record is {row.seq})"
        if row.prev_hash != self._prev_hash:
            return row.seq, f"pruned record {row.seq} does not follow record {row.seq - 1}: a record was changed or removed"
        if row.leaf is None or len(row.leaf) != 32:
            return row.seq, f"pruned record {row.seq} has no leaf hash in the tree: the tree was edited"
        return None

    def _check(self, row: Row) -> tuple[int, str] | None:
        seq = row.seq
        if seq != self._expected_seq:
            missing = self._expected_seq
            return missing, f"record {missing} is missing (the next stored record is {seq})"
        if sha256_hex(row.body) != row.hash:
            return seq, f"record {seq} was changed: its content does not match its hash"
        try:
            content = json.loads(row.body)
        except ValueError:
            return seq, f"record {seq} was changed: its content is not valid JSON"
        if content.get("seq") != seq or content.get("prev_hash") != row.prev_hash:
            return seq, f"record {seq} holds record {content.get('seq')}'s content: records were reordered"
        if row.prev_hash != self._prev_hash:
            return seq, f"record {seq} does not follow record {seq - 1}: a record was changed, removed or reordered"
        if not _columns_agree(row, content):
            return seq, f"record {seq} was changed: its indexed columns differ from its content"
        return None


def _columns_agree(row: Row, content: dict[str, Any]) -> bool:
    try:
        time = datetime.fromisoformat(content["time"])
    except (KeyError, TypeError, ValueError):
        return False
    return (
        row.decision_id == content.get("decision_id")
        and row.time == time
        and row.outcome == content.get("outcome")
        and sorted(row.models) == sorted(labels_of(content))
    )
