"""`audit prune` keeps the tree's hashes (checkpoints and kept records' proofs stay valid, a
pruned record reads as pruned) and `audit export` streams jsonl or OCSF."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from typer.testing import CliRunner

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Signer
from gatekeeper.cli.audit import app as audit

from .audit_data import record

runner = CliRunner()
ORIGIN = "example.com/model-gatekeeper/retention"
OLD = datetime(2020, 3, 1, tzinfo=timezone.utc)


def cli(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(audit, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def make_log(url: str, signer: Signer, old: int, new: int) -> None:
    async def fill() -> None:
        async with await open_store(url) as store:
            for i in range(old):
                await store.append(record(i).model_copy(update={"time": OLD.replace(day=1 + i)}))
            for i in range(old, old + new):
                await store.append(record(i))
            await store.sign_checkpoint(signer, ORIGIN)

    asyncio.run(fill())


def test_prune_keeps_hashes_proofs_and_checkpoints(store_url, tmp_path):
    signer = Signer.generate(ORIGIN)
    make_log(store_url, signer, old=4, new=3)
    vkey = str(signer.verifier)
    kept = tmp_path / "kept.json"
    assert cli("prove", "decision-5", "--audit-db", store_url, "--out", str(kept)).exit_code == 0
    before = cli("export", "--audit-db", store_url).stdout.splitlines()

    pruned = cli("prune", "--before", "2021-01-01", "--audit-db", store_url)
    assert (pruned.exit_code, pruned.stdout) == (0, "pruned 4 records older than 2021-01-01\n")
    verified = cli("verify", "--audit-db", store_url, "--log-key", vkey)
    assert (verified.exit_code, verified.stdout) == (0, "audit log intact: 7 records\n")
    assert cli("verify-proof", str(kept), "--log-key", vkey).exit_code == 0  # an old proof still holds
    again = tmp_path / "again.json"
    assert cli("prove", "decision-6", "--audit-db", store_url, "--out", str(again)).exit_code == 0
    assert cli("verify-proof", str(again), "--log-key", vkey).exit_code == 0

    gone = cli("prove", "decision-1", "--audit-db", store_url)
    assert gone.exit_code == 2
    assert "decision decision-1 (record 2) was pruned: its body is gone, its hash stays in the tree" in gone.stderr
    listed = json.loads(cli("list", "--audit-db", store_url, "--format", "json").stdout)
    assert [(r["seq"], r["pruned"]) for r in listed] == [(7, False), (6, False), (5, False), (4, True), (3, True),
                                                         (2, True), (1, True)]
    # a filter on what only the body holds passes over pruned records instead of failing on them
    by_source = json.loads(cli("list", "--audit-db", store_url, "--source", "webhook", "--format", "json").stdout)
    assert [r["seq"] for r in by_source] == [7, 6, 5]
    exported = cli("export", "--audit-db", store_url).stdout.splitlines()
    assert exported[4:] == before[4:]
    assert json.loads(exported[0]) == {"seq": 1, "decision_id": "decision-0", "pruned": True}


def test_prune_refuses_records_younger_than_the_retention_minimum(sqlite_url):
    make_log(sqlite_url, Signer.generate(ORIGIN), old=1, new=1)
    today = datetime.now(timezone.utc).date().isoformat()
    refused = cli("prune", "--before", today, "--audit-db", sqlite_url)
    assert refused.exit_code == 2 and refused.stderr.count("\n") == 1
    assert "refusing to prune records younger than the retention minimum of 183 days" in refused.stderr
    assert cli("prune", "--before", today, "--min-retention", "0", "--audit-db", sqlite_url).stdout == (
        f"pruned 1 records older than {today}\n")  # today's record is not older than today


def test_export_streams_pages_in_order_and_ocsf(sqlite_url):
    make_log(sqlite_url, Signer.generate(ORIGIN), old=3, new=0)

    async def more() -> None:
        async with await open_store(sqlite_url) as store:
            # past two pages of reads; concurrent appends share group commits (ordered by submission)
            await asyncio.gather(*(store.append(record(i, allowed=i % 2 == 0, violations=i % 2))
                                   for i in range(3, 2503)))

    asyncio.run(more())
    lines = cli("export", "--audit-db", sqlite_url).stdout.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 2504))
    window = cli("export", "--audit-db", sqlite_url, "--since", "2020-03-02", "--until", "2020-03-03").stdout
    assert [json.loads(line)["decision_id"] for line in window.splitlines()] == ["decision-1"]
    events = [json.loads(line) for line in cli("export", "--audit-db", sqlite_url, "--format", "ocsf").stdout.splitlines()]
    assert len(events) == 2503
    denied = events[5]
    assert (denied["class_uid"], denied["category_uid"], denied["type_uid"]) == (6003, 6, 600301)
    assert (denied["activity_name"], denied["status"], denied["status_detail"]) == ("Create", "Failure", "denied")
    assert denied["metadata"]["uid"] == "decision-5" and denied["actor"]["user"]["name"] == "alice"
    assert denied["resources"] == [{"type": "InferenceService", "name": "svc-5", "group": {"name": "lending"},
                                    "data": {"apiVersion": "serving.kserve.io/v1beta1"}}]
    assert denied["message"].startswith("demographic parity ratio for 'sex'")
    assert events[4]["status_id"] == 1 and events[4]["unmapped"]["environment"] == "production"
