"""What replay needs, in both stores: OPA inputs (content-addressed, compressed, named by the
record, pruned with it) and policy bundles (stored once, kept while a record names them)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from gatekeeper.audit import AuditStoreError, open_store
from gatekeeper.types.canonical import canonical_json, sha256_of

from .audit_data import raw_rows, raw_sql, record

OLD = datetime(2020, 3, 1, tzinfo=timezone.utc)


def opa_input(i: int, model: str = "models:/credit-scoring/3") -> dict:
    return {"now": f"2026-12-0{1 + i % 5}T10:00:00Z", "environment": "production", "operation": "CREATE",
            "models": [{"ref": model, "evidence": {"fairness": {"ratio": 0.9, "note": "é"},
                                                   "signoffs": [f"sha256:{n:064x}" for n in range(20)]}}]}


def test_the_record_names_its_input_and_the_store_gives_it_back(store_url):
    async def run():
        async with await open_store(store_url) as store:
            first = await store.append(record(0), opa_input(0))
            again = await store.append(record(1), opa_input(0))  # the same input: stored once
            bare = await store.append(record(2))
            listed = {r.decision_id: r for r in await store.list()}
            return first, again, bare, listed, await store.input(first.input_digest), await store.verify()

    first, again, bare, listed, stored, verified = asyncio.run(run())
    assert first.input_digest == sha256_of(canonical_json(opa_input(0))) == again.input_digest
    assert stored == opa_input(0)
    assert listed["decision-0"].input_digest == first.input_digest  # in the hashed body
    assert json.loads(canonical_json(listed["decision-0"].content()))["input_digest"] == first.input_digest
    assert bare.input_digest is None and listed["decision-2"].input_digest is None
    assert verified.ok and verified.count == 3


def test_a_tampered_input_is_named(store_url):
    async def run():
        async with await open_store(store_url) as store:
            appended = await store.append(record(0), opa_input(0))
            other = await store.append(record(1), opa_input(1, "models:/churn/1"))
        # Swap the stored inputs: each row now holds a valid input that is not its own.
        raw_sql(store_url, f"UPDATE audit_inputs SET digest = 'x' WHERE digest = '{appended.input_digest}'",
                f"UPDATE audit_inputs SET digest = '{appended.input_digest}' WHERE digest = '{other.input_digest}'")
        async with await open_store(store_url) as store:
            with pytest.raises(AuditStoreError) as raised:
                await store.input(appended.input_digest)
        return appended, raised.value

    appended, error = asyncio.run(run())
    assert f"the stored input {appended.input_digest} was changed: its content does not match its digest" in str(error)


def test_bundles_are_stored_once(store_url):
    async def run():
        async with await open_store(store_url) as store:
            put = await store.put_bundle("sha256:rev", b"bundle-bytes", "1.22.2")
            again = await store.put_bundle("sha256:rev", b"other", "1.23.0")
            return put, again, await store.has_bundle("sha256:rev"), await store.has_bundle("sha256:no"), \
                await store.bundle("sha256:rev"), await store.bundle("sha256:no")

    put, again, has, has_not, stored, missing = asyncio.run(run())
    assert (put, again, has, has_not, missing) == (True, False, True, False, None)
    assert (stored.revision, stored.bundle, stored.opa_version) == ("sha256:rev", b"bundle-bytes", "1.22.2")


def test_prune_removes_the_inputs_of_pruned_records_and_unnamed_bundles(store_url):
    now = datetime.now(timezone.utc)

    async def run():
        async with await open_store(store_url) as store:
            old = await store.append(record(0).model_copy(update={"time": OLD}), opa_input(0, "models:/churn/1"))
            shared_old = await store.append(record(1).model_copy(update={"time": OLD}), opa_input(1))
            await store.append(record(2), opa_input(1))  # a kept record names the same input
            new = await store.append(record(3), opa_input(2))
            await store.put_bundle("sha256:policy", b"named by kept records", "1.22.2")
            await store.put_bundle("sha256:gone", b"named by no record", "1.22.2")
        # Both bundles stored long ago, as they would have been.
        raw_sql(store_url, "UPDATE audit_bundles SET stored_at = '2020-01-01T00:00:00.000000Z'")
        async with await open_store(store_url) as store:
            assert await store.prune(datetime(2021, 1, 1, tzinfo=timezone.utc), now, timedelta(days=183)) == 2
            return [await store.input(r.input_digest) for r in (old, shared_old, new)], \
                await store.has_bundle("sha256:policy"), await store.has_bundle("sha256:gone"), await store.verify()

    inputs, kept_bundle, gone_bundle, verified = asyncio.run(run())
    assert inputs == [None, opa_input(1), opa_input(2)]  # opa_input(1): the base of opa_input(2), kept with it
    assert (kept_bundle, gone_bundle) == (True, False)
    assert verified.ok


def test_inputs_about_the_same_models_are_stored_against_a_base(store_url):
    async def run():
        async with await open_store(store_url) as store:
            base = await store.append(record(0), opa_input(0))
            later = [await store.append(record(i), opa_input(i)) for i in (1, 2)]
            other = await store.append(record(3), opa_input(3, "models:/churn/1"))
            read = await store.inputs([r.input_digest for r in (base, *later, other)])
        return base, later, other, read

    base, later, other, read = asyncio.run(run())
    assert read == {base.input_digest: opa_input(0), later[0].input_digest: opa_input(1),
                    later[1].input_digest: opa_input(2), other.input_digest: opa_input(3, "models:/churn/1")}
    rows = dict(raw_rows(store_url, "SELECT digest, base FROM audit_inputs"))
    assert rows == {base.input_digest: None, later[0].input_digest: base.input_digest,
                    later[1].input_digest: base.input_digest, other.input_digest: None}
    sizes = dict(raw_rows(store_url, "SELECT digest, length(input) FROM audit_inputs"))
    assert sizes[later[0].input_digest] * 3 < sizes[base.input_digest]

    # A restarted gate knows no base: stored whole again, the row becomes whole (a base never has one).
    async def again():
        async with await open_store(store_url) as store:
            await store.append(record(4), opa_input(1))
            return await store.inputs([later[0].input_digest, later[1].input_digest])

    assert asyncio.run(again()) == {later[0].input_digest: opa_input(1), later[1].input_digest: opa_input(2)}
    assert dict(raw_rows(store_url, "SELECT digest, base FROM audit_inputs"))[later[0].input_digest] is None

    # The base tampered with: what is read against it is refused, naming the base.
    raw_sql(store_url, f"UPDATE audit_inputs SET base = '{later[0].input_digest}' WHERE digest = '{base.input_digest}'")

    async def read_later():
        async with await open_store(store_url) as store:
            with pytest.raises(AuditStoreError) as raised:
                await store.input(later[1].input_digest)
            return raised.value

    assert (f"the stored input {later[1].input_digest} was changed: its base {base.input_digest} has a base"
            in str(asyncio.run(read_later())))
