"""Tampering with a signed log is caught and named, each by one command with one line:
a body changed, a record removed, two swapped, the whole log rebuilt and re-signed with
another key, and a fork (two checkpoints of one size, or a smaller one not extended)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Checkpoint, Signer
from gatekeeper.cli.audit import app as audit

from .audit_data import raw_sql, record

runner = CliRunner()
ORIGIN = "example.com/model-gatekeeper/tamper"
SIGNER = Signer.generate(ORIGIN)
VKEY = str(SIGNER.verifier)


def verify(url: str, *args: str) -> tuple[int, str]:
    result = runner.invoke(audit, ["verify", "--audit-db", url, *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def make_log(url: str, n: int = 6, signer: Signer = SIGNER, first: int = 0) -> str:
    """A signed log; returns its newest checkpoint (what an auditor kept from last time)."""
    async def fill() -> str:
        async with await open_store(url) as store:
            for i in range(first, first + n):
                await store.append(record(i))
            return (await store.sign_checkpoint(signer, ORIGIN)).note

    return asyncio.run(fill())


@pytest.fixture
def log(sqlite_url: str) -> str:
    make_log(sqlite_url)
    assert verify(sqlite_url, "--log-key", VKEY) == (0, "audit log intact: 6 records\n")
    return sqlite_url


def test_a_changed_body(log):
    raw_sql(log, "UPDATE audit_records SET body = replace(body, '\"allowed\":true', '\"allowed\":false') WHERE seq = 3")
    assert verify(log) == (1, "audit log NOT intact: record 3 was changed: its content does not match its hash\n")


def test_a_removed_record(log):
    raw_sql(log, "DELETE FROM audit_records WHERE seq = 4")
    assert verify(log) == (1, "audit log NOT intact: record 4 is missing (the next stored record is 5)\n")


def test_the_newest_records_removed_and_every_head_fixed(log, tmp_path):
    # The tamperer cuts the log to 4 records and rewrites both heads to match: the signed
    # checkpoint of size 6 still says there were 6.
    _replace_all_but_checkpoints(log, tmp_path, lambda url: make_log(url, n=4))
    assert verify(log) == (1, "audit log NOT intact: records were removed: the signed checkpoint of size 6 covers "
                              "more than the 4 records the log holds\n")


def test_two_records_swapped(log):
    raw_sql(log, "UPDATE audit_records SET seq = -2 WHERE seq = 2", "UPDATE audit_records SET seq = 2 WHERE seq = 3",
            "UPDATE audit_records SET seq = 3 WHERE seq = -2")
    assert verify(log) == (1, "audit log NOT intact: record 2 holds record 3's content: records were reordered\n")


def test_a_log_rewritten_consistently_but_not_resigned(log, tmp_path):
    # Chain, tree and heads rebuilt over a changed history (no key needed): the checkpoint
    # signed before does not match the records any more.
    _replace_all_but_checkpoints(log, tmp_path, lambda url: make_log(url, n=6, first=100))
    assert verify(log) == (1, "audit log NOT intact: records 1-6 do not match the signed checkpoint of size 6: "
                              "the log was rewritten after it was signed\n")


def test_the_whole_log_rebuilt_and_resigned_with_another_key(sqlite_url, tmp_path):
    kept = tmp_path / "kept.checkpoint"
    kept.write_text(make_log(sqlite_url))
    forged = f"sqlite:///{tmp_path / 'forged.db'}"
    make_log(forged, n=6, first=100, signer=Signer.generate(ORIGIN))
    Path(sqlite_url.removeprefix("sqlite:///")).write_bytes(Path(forged.removeprefix("sqlite:///")).read_bytes())
    assert verify(sqlite_url) == (0, "audit log intact: 6 records\n")  # consistent in itself...
    assert verify(sqlite_url, "--log-key", VKEY) == (  # ...but not signed by the log's key
        1, f"audit log NOT intact: the checkpoint of size 6 is not signed by the log key {ORIGIN}: "
           "the log was rebuilt and re-signed with another key\n")
    code, out = verify(sqlite_url, "--since", str(kept))  # and not what the auditor saw last time
    assert (code, out) == (1, "audit log NOT intact: the log does not extend the checkpoint of size 6 (a fork): "
                              "two different root hashes for the same size 6\n")


def test_a_fork_smaller_checkpoint_not_extended(log, tmp_path):
    other = tmp_path / "other.checkpoint"
    other_log = f"sqlite:///{tmp_path / 'other.db'}"
    other.write_text(make_log(other_log, n=3, first=50))  # same key, another history of 3
    assert verify(log, "--since", str(other), "--log-key", VKEY) == (
        1, "audit log NOT intact: the log does not extend the checkpoint of size 3 (a fork): "
           "the consistency proof does not lead to the root hash of size 3\n")
    forged = tmp_path / "forged.checkpoint"
    forged.write_text(Signer.generate(ORIGIN).sign(Checkpoint(ORIGIN, 3, b"\0" * 32).text()))
    result = runner.invoke(audit, ["verify", "--audit-db", log, "--since", str(forged), "--log-key", VKEY])
    assert result.exit_code == 2
    assert result.stderr == (f"gatekeeper: --since {forged}: the checkpoint is not signed by the log key {ORIGIN}\n")


def _replace_all_but_checkpoints(url: str, tmp_path: Path, build) -> None:  # type: ignore[no-untyped-def]
    """Rebuild records, chain head and tree with our own code elsewhere, then copy them over
    the log's, leaving its signed checkpoints: what a tamperer without the key can do."""
    other = tmp_path / "rebuilt.db"
    build(f"sqlite:///{other}")
    con = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        con.execute(f"ATTACH DATABASE '{other}' AS rebuilt")
        for table in ("audit_records", "audit_head", "audit_tree", "audit_tree_head"):
            con.execute(f"DELETE FROM main.{table}")
            con.execute(f"INSERT INTO main.{table} SELECT * FROM rebuilt.{table}")
    finally:
        con.close()


def test_checkpoints_removed(log):
    raw_sql(log, "DELETE FROM audit_checkpoints")
    assert verify(log, "--log-key", VKEY) == (1, "audit log NOT intact: no signed checkpoint: the log's checkpoints "
                                                 "were removed, or it was never signed\n")
