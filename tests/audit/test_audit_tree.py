"""The log as a Merkle tree in both stores: leaves are `audit export` lines, proofs verify,
older logs are carried over, and an edited tree is caught by `audit verify`."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gatekeeper.audit import merkle, open_store
from gatekeeper.cli.audit import app

from .audit_data import raw_sql, record

pytestmark = pytest.mark.asyncio
PREVIOUS_RELEASE = Path(__file__).parent / "fixtures" / "previous-release.sql"
runner = CliRunner()


async def _export(url: str) -> list[bytes]:
    # The CLI runs its own event loop: in a thread, beside the test's.
    return await asyncio.to_thread(_export_now, url)


def _export_now(url: str) -> list[bytes]:
    result = runner.invoke(app, ["export", "--audit-db", url, "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    return [line.encode() for line in result.stdout.splitlines()]


def _root(leaves: list[bytes]) -> bytes:
    hasher = merkle.Hasher()
    for leaf in leaves:
        hasher.add(merkle.leaf_hash(leaf))
    return hasher.root()


async def test_leaves_are_the_export_lines_and_proofs_verify(store_url):
    async with await open_store(store_url) as store:
        for i in range(11):
            await store.append(record(i))
        head = await store.tree_head()
    leaves = await _export(store_url)
    assert len(leaves) == head.size == 11
    assert head.root == _root(leaves)
    async with await open_store(store_url, create=False) as store:
        roots = [await store.root_at(n) for n in range(12)]
        assert roots == [_root(leaves[:n]) for n in range(12)]
        for i in range(11):
            proof = await store.inclusion_proof(i, 11)
            merkle.verify_inclusion(merkle.leaf_hash(leaves[i]), i, 11, proof, head.root)
        for old in range(1, 12):
            merkle.verify_consistency(old, 11, roots[old], head.root, await store.consistency_proof(old, 11))
        found = await store.find("decision-4")
        assert found is not None and found.seq == 5 and found.body.encode() == leaves[4]


async def test_a_log_of_the_previous_release_becomes_the_first_leaves(tmp_path):
    path = tmp_path / "audit.db"
    con = sqlite3.connect(path)
    con.executescript(PREVIOUS_RELEASE.read_text())
    con.close()
    assert "audit_tree" not in PREVIOUS_RELEASE.read_text()
    url = f"sqlite:///{path}"
    old_leaves = await _export(url)  # export reads it as it is (and carries it over: a writable open)
    assert len(old_leaves) == 13
    async with await open_store(url) as store:
        head = await store.tree_head()
        assert (head.size, head.root) == (13, _root(old_leaves))
        await store.append(record(99))
        assert (await store.verify()).ok
        new = await store.tree_head()
        merkle.verify_consistency(13, 14, head.root, new.root, await store.consistency_proof(13, 14))
    assert (await _export(url))[:13] == old_leaves


async def test_an_older_postgres_log_is_carried_over(pg_url):
    async with await open_store(pg_url) as store:
        for i in range(6):
            await store.append(record(i))
    # The previous release's PostgreSQL schema is today's without the tree's tables.
    raw_sql(pg_url, "DROP TABLE audit_tree", "DROP TABLE audit_tree_head", "DROP INDEX audit_records_decision")
    async with await open_store(pg_url, create=False) as store:
        head = await store.tree_head()
        assert (head.size, head.root) == (6, _root(await _export(pg_url)))
        await store.append(record(6))
        assert (await store.verify()).ok


async def test_a_read_only_older_log_still_verifies(tmp_path):
    path = tmp_path / "audit.db"
    con = sqlite3.connect(path)
    con.executescript(PREVIOUS_RELEASE.read_text())
    con.close()
    async with await open_store(f"sqlite:///{path}?mode=ro", create=False) as store:
        result = await store.verify()
    assert (result.ok, result.count) == (True, 13)


async def test_verify_names_an_edited_tree(store_url):
    async with await open_store(store_url) as store:
        for i in range(5):
            await store.append(record(i))
    zeros = "00" * 64  # two hashes: a size-5 tree's frontier, but not this tree's
    blob = f"'\\x{zeros}'::bytea" if store_url.startswith("postgresql") else f"x'{zeros}'"
    raw_sql(store_url, f"UPDATE audit_tree_head SET frontier = {blob}")
    async with await open_store(store_url) as store:
        result = await store.verify()
    assert not result.ok
    assert result.reason == "the Merkle tree's root does not match the records: the stored tree was edited"
