"""Both backends: append, list, verify and tamper detection, concurrency."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from gatekeeper.audit import AuditStoreError, open_store
from gatekeeper.audit.record import GENESIS_HASH

from .audit_data import raw_sql, record

pytestmark = pytest.mark.asyncio


async def filled(url, n=5):
    """A store holding n records: even ones admitted (model a@1), odd ones denied (model b@2)."""
    store = await open_store(url)
    for i in range(n):
        if i % 2:
            await store.append(record(i, model="b", version="2", allowed=False, violations=1))
        else:
            await store.append(record(i, model="a", version="1"))
    return store


async def test_append_chains_records(store_url):
    async with await open_store(store_url) as store:
        first = await store.append(record(0))
        second = await store.append(record(1))
        assert (first.seq, second.seq) == (1, 2)
        assert first.prev_hash == GENESIS_HASH and second.prev_hash == first.hash
        assert first.hash == first.compute_hash() and second.hash == second.compute_hash()
        listed = await store.list()
        assert [r.seq for r in listed] == [2, 1]  # newest first
        assert listed[1] == first  # what was stored is what comes back, hash included


async def test_list_filters(store_url):
    store = await filled(store_url, 6)
    try:
        assert len(await store.list()) == 6
        assert [r.seq for r in await store.list(limit=2)] == [6, 5]
        assert {r.decision_id for r in await store.list(model="a")} == {"decision-0", "decision-2", "decision-4"}
        assert len(await store.list(model="b@2")) == 3
        assert await store.list(model="b@1") == [] and await store.list(model="c") == []
        denied = await store.list(outcome="denied")
        assert len(denied) == 3 and all(r.outcome == "denied" and r.violations for r in denied)
        assert len(await store.list(model="a", outcome="denied")) == 0
        everything = await store.list()
        middle = everything[3].time  # seq 3
        assert [r.seq for r in await store.list(since=middle)] == [6, 5, 4, 3]
        assert [r.seq for r in await store.list(until=middle)] == [2, 1]
        future = datetime.now(timezone.utc) + timedelta(days=1)
        assert await store.list(since=future) == []
        with pytest.raises(AuditStoreError, match="unknown outcome"):
            await store.list(outcome="maybe")
    finally:
        await store.close()


async def test_list_by_source(store_url):
    async with await open_store(store_url) as store:
        for i, source in enumerate(["webhook", "background", "cli", "background"]):
            await store.append(record(i).model_copy(update={"source": source}))
        assert [r.seq for r in await store.list(source="background")] == [4, 2]
        assert [r.seq for r in await store.list(source="webhook")] == [1]
        assert await store.list(source="api") == []
        with pytest.raises(AuditStoreError, match="unknown source"):
            await store.list(source="cron")


async def test_list_by_namespace_user_and_seq_bounds(store_url):
    async with await open_store(store_url) as store:
        for i, (namespace, user) in enumerate([("lending", "alice"), ("retention", "bob"), ("lending", "bob"),
                                               ("retention", "alice")]):
            base = record(i)
            await store.append(base.model_copy(update={"user": user, "object": base.object.model_copy(
                update={"namespace": namespace})}))
        assert [r.seq for r in await store.list(namespace="retention")] == [4, 2]
        assert [r.seq for r in await store.list(user="bob")] == [3, 2]
        assert [r.seq for r in await store.list(namespace="lending", user="bob")] == [3]
        assert await store.list(namespace="nowhere") == []
        assert [r.seq for r in await store.list(before=3)] == [2, 1]  # the page after one that ended at 3
        assert [r.seq for r in await store.list(after=2)] == [4, 3]
        assert [r.seq for r in await store.list(after=1, before=4, user="bob")] == [3, 2]
        assert await store.recent_models(2) == {"credit-scoring@3"}


async def test_verify_ok(store_url):
    async with await open_store(store_url) as store:
        assert (await store.verify()).ok  # empty is intact
        for i in range(3):
            await store.append(record(i))
        result = await store.verify()
        assert (result.ok, result.count, result.first_bad_seq, result.reason) == (True, 3, None, None)


async def verify_after(url, *statements):
    store = await filled(url, 5)
    try:
        raw_sql(url, *statements)
        return await store.verify()
    finally:
        await store.close()


async def test_verify_catches_a_changed_violation(store_url):
    result = await verify_after(store_url, "UPDATE audit_records SET body = replace(body, 'below 0.80', 'above 0.80') WHERE seq = 2")
    assert not result.ok and result.first_bad_seq == 2 and "changed" in result.reason and result.count == 5


async def test_verify_catches_a_changed_column(store_url):
    result = await verify_after(store_url, "UPDATE audit_records SET outcome = 'admitted' WHERE seq = 4")
    assert (result.ok, result.first_bad_seq) == (False, 4) and "columns" in result.reason


async def test_verify_catches_a_deleted_record(store_url):
    result = await verify_after(store_url, "DELETE FROM audit_records WHERE seq = 3")
    assert (result.ok, result.first_bad_seq) == (False, 3) and "missing" in result.reason


async def test_verify_catches_deleted_newest_records(store_url):
    result = await verify_after(store_url, "DELETE FROM audit_records WHERE seq >= 4")
    assert (result.ok, result.first_bad_seq) == (False, 4) and "missing" in result.reason


async def test_verify_catches_swapped_records(store_url):
    result = await verify_after(
        store_url,
        "UPDATE audit_records SET seq = -1 WHERE seq = 2",
        "UPDATE audit_records SET seq = 2 WHERE seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE seq = -1",
    )
    assert (result.ok, result.first_bad_seq) == (False, 2) and "reordered" in result.reason


async def test_verify_catches_a_rehashed_record(store_url):
    # Changing a record and fixing its own hash still breaks the next record's link.
    async with await open_store(store_url) as store:
        for i in range(3):
            await store.append(record(i))
        forged = (await store.list())[1].model_copy(update={"user": "mallory"})
        raw_sql(
            store_url,
            f"UPDATE audit_records SET body = '{forged.canonical_json()}', hash = '{forged.compute_hash()}' WHERE seq = 2",
        )
        result = await store.verify()
        assert (result.ok, result.first_bad_seq) == (False, 3) and "does not follow" in result.reason


async def test_concurrent_appends_make_one_chain(store_url):
    async with await open_store(store_url) as store:
        appended = await asyncio.gather(*(store.append(record(i)) for i in range(200)))
        assert sorted(r.seq for r in appended) == list(range(1, 201))
        assert len({r.decision_id for r in appended}) == 200
        assert len(await store.list(limit=1000)) == 200
        result = await store.verify()
        assert (result.ok, result.count) == (True, 200)


async def test_appends_are_durable_when_they_return(store_url):
    store = await open_store(store_url)
    await store.append(record(1))
    # Another connection (another process, as far as the database knows) sees it already.
    async with await open_store(store_url) as other:
        assert [r.decision_id for r in await other.list()] == ["decision-1"]
    await store.close()


async def test_a_closed_store_refuses_appends(store_url):
    store = await open_store(store_url)
    await store.close()
    with pytest.raises(AuditStoreError, match="closed"):
        await store.append(record())
    with pytest.raises(AuditStoreError, match="closed"):
        await store.check_writable()


async def test_check_writable_passes_on_a_writable_store(store_url):
    async with await open_store(store_url) as store:
        await store.check_writable()


async def test_verify_catches_a_record_added_behind_the_head(store_url):
    result = await verify_after(
        store_url,
        "INSERT INTO audit_records SELECT seq + 1, decision_id, time, outcome, models, hash, hash, body"
        " FROM audit_records WHERE seq = 5",
    )
    assert (result.ok, result.first_bad_seq) == (False, 6) and result.count == 6
