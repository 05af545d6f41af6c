import hashlib
import json
from datetime import datetime, timedelta, timezone


from gatekeeper.audit import AuditRecord

from .audit_data import decision, record


def test_outcomes_follow_the_decision():
    def outcome(**kw):
        return record(**kw).outcome

    assert outcome() == "admitted"
    assert outcome(violations=1) == "warned"  # allowed (warn / dryrun) with violations
    assert outcome(warnings=("waived",)) == "warned"
    assert outcome(allowed=False, violations=1) == "denied"
    assert outcome(allowed=False, error="OPA unreachable") == "error"


def test_from_decision_fills_the_record():
    r = AuditRecord.from_decision(decision(7, violations=2), request_uid="u-7", user="bob", dry_run=True, source="cli")
    assert (r.decision_id, r.request_uid, r.user, r.dry_run, r.source) == ("decision-7", "u-7", "bob", True, "cli")
    assert r.object.name == "svc-7" and r.environment == "production" and r.operation == "CREATE"
    assert [m.name for m in r.models] == ["credit-scoring"] and len(r.violations) == 2
    assert r.policy_revision == "sha256:policy" and r.evidence_digest == "sha256:evidence"
    assert r.time.tzinfo is not None and abs(datetime.now(timezone.utc) - r.time) < timedelta(seconds=5)
    assert r.model_labels() == ["credit-scoring", "credit-scoring@3"]


def test_a_decision_without_id_gets_one():
    d = decision().model_copy(update={"decision_id": ""})
    r = AuditRecord.from_decision(d, request_uid=None, user=None, dry_run=False, source="api")
    assert len(r.decision_id) == 32


def test_hash_is_sha256_of_canonical_json_without_hash():
    r = record(violations=1).model_copy(update={"seq": 4, "prev_hash": "ab" * 32, "hash": "ignored"})
    content = json.loads(r.model_dump_json(by_alias=True))
    # `pruned` is how a record reads once `audit prune` removed its body, never content
    assert content.pop("pruned") is False
    del content["hash"]
    assert content["seq"] == 4 and content["prev_hash"] == "ab" * 32
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert r.canonical_json() == canonical
    assert r.compute_hash() == hashlib.sha256(canonical.encode()).hexdigest()


def test_times_are_utc():
    naive = AuditRecord.model_validate({**record().model_dump(), "time": datetime(2026, 1, 2, 3)})
    assert naive.time == datetime(2026, 1, 2, 3, tzinfo=timezone.utc)
    cet = timezone(timedelta(hours=1))
    aware = AuditRecord.model_validate({**record().model_dump(), "time": datetime(2026, 1, 2, 4, tzinfo=cet)})
    assert aware.time.utcoffset() == timedelta(0) and aware.time.hour == 3
