"""SQLite specifics: stores that cannot record, and several writers on one file."""

import asyncio
import os
import re
import shutil
import subprocess

import pytest

from gatekeeper.audit import AuditStoreError, open_store

from .audit_data import record

pytestmark = pytest.mark.asyncio

READONLY = "attempt to write a readonly database"


async def make_log(path, n=2):
    async with await open_store(str(path)) as store:
        for i in range(n):
            await store.append(record(i))


async def test_read_only_store_refuses_appends_and_is_not_ready(tmp_path):
    # Tests run as root, where chmod does not stop writes; mode=ro is a read-only open
    # that holds for root too (as a read-only mount would).
    await make_log(tmp_path / "audit.db")
    url = f"sqlite:///{tmp_path}/audit.db?mode=ro"
    async with await open_store(url) as store:
        with pytest.raises(AuditStoreError) as raised:
            await store.check_writable()
        assert str(raised.value) == f"audit store {url}: {READONLY}"
        with pytest.raises(AuditStoreError, match=f"^{re.escape(f'audit store {url}: {READONLY}')}$"):
            await store.append(record(9))
        # Reading still works, and nothing was half-written.
        assert (await store.verify()).count == 2


async def test_immutable_file_refuses_appends(tmp_path):
    # `chattr +i` stops root too: the file-system-level version of a read-only store.
    if shutil.which("chattr") is None:
        pytest.fail("chattr (e2fsprogs) is needed for this test")
    path = tmp_path / "audit.db"
    await make_log(path)
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.fail(f"chattr +i failed (the test needs a file system with the immutable flag): {made.stderr.strip()}")
    try:
        async with await open_store(str(path)) as store:
            with pytest.raises(AuditStoreError, match=f"^audit store sqlite:///{path}: {READONLY}$"):
                await store.check_writable()
            with pytest.raises(AuditStoreError, match=READONLY):
                await store.append(record(9))
            assert (await store.list())[0].seq == 2
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_store_under_a_file_cannot_open(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    url = f"sqlite:///{tmp_path}/not-a-dir/audit.db"
    with pytest.raises(AuditStoreError, match=f"^audit store {url}: "):
        await open_store(url)


async def test_urls_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with await open_store("sqlite:///.gatekeeper/audit.db") as store:  # the CLI's default: relative
        await store.append(record())
    assert (tmp_path / ".gatekeeper" / "audit.db").is_file()
    async with await open_store(".gatekeeper/audit.db") as store:  # a plain path is SQLite
        assert len(await store.list()) == 1
    for bad in ("sqlite://x.db", "sqlite:///:memory:", "mysql://host/db", "sqlite:///x.db?mode=zz"):
        with pytest.raises(AuditStoreError, match="^audit store "):
            await open_store(bad)
    with pytest.raises(AuditStoreError, match="does not exist"):
        await open_store("missing.db", create=False)
    assert not os.path.exists("missing.db")


async def test_two_stores_on_one_file_keep_one_chain(sqlite_url):
    # Two processes (a server and a CLI, say) writing the same file: BEGIN IMMEDIATE
    # serialises their batches in the database.
    a, b = await open_store(sqlite_url), await open_store(sqlite_url)
    try:
        await asyncio.gather(*(s.append(record(i)) for i in range(100) for s in (a, b)))
        result = await a.verify()
        assert (result.ok, result.count) == (True, 200)
    finally:
        await a.close()
        await b.close()
