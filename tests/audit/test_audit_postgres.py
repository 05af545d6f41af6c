"""PostgreSQL specifics: several replicas on one chain, lost connections, read-only servers."""

import asyncio

import psycopg
import pytest

from gatekeeper.audit import AuditStoreError, open_store

from .audit_data import record

pytestmark = pytest.mark.asyncio


async def test_two_replicas_append_to_one_chain(pg_url):
    # Opened together on an empty database: the schema is created once, not raced.
    a, b = await asyncio.gather(open_store(pg_url), open_store(pg_url))
    try:
        appended = await asyncio.gather(*(s.append(record(i)) for i in range(150) for s in (a, b)))
        assert sorted(r.seq for r in appended) == list(range(1, 301))
        for store in (a, b):
            result = await store.verify()
            assert (result.ok, result.count) == (True, 300)
    finally:
        await a.close()
        await b.close()


async def test_an_append_survives_a_lost_idle_connection(pg_url):
    async with await open_store(pg_url) as store:
        await store.append(record(1))
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'gatekeeper-audit' AND datname = current_database()"
            ).fetchall()
        assert killed == [(True,)]
        await asyncio.sleep(0.1)
        second = await store.append(record(2))  # the batch never reached the server: redone
        assert second.seq == 2
        assert (await store.verify()).ok


async def test_read_only_database_refuses_appends_and_is_not_ready(postgres_server):
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute("CREATE DATABASE audit_read_only")
    pg_url = postgres_server.url_for("audit_read_only")
    async with await open_store(pg_url) as store:
        await store.append(record(1))
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute("ALTER DATABASE audit_read_only SET default_transaction_read_only = on")
    async with await open_store(pg_url) as store:
        with pytest.raises(AuditStoreError, match=r"^audit store postgresql://\S+: sessions are read-only"):
            await store.check_writable()
        with pytest.raises(AuditStoreError, match=r"^audit store postgresql://\S+: cannot execute"):
            await store.append(record(2))
        assert (await store.verify()).count == 1


async def test_unreachable_server_names_the_store_without_password(postgres_server):
    url = f"postgresql://gatekeeper:s3cret@127.0.0.1:{postgres_server.port}/no_such_database"
    with pytest.raises(AuditStoreError) as raised:
        await open_store(url)
    assert str(raised.value).startswith("audit store postgresql://gatekeeper:***@127.0.0.1:")
    assert "s3cret" not in str(raised.value)


async def test_cli_view_of_a_missing_log(pg_url):
    with pytest.raises(AuditStoreError, match="does not exist"):
        await open_store(pg_url, create=False)
