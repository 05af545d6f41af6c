"""Signed checkpoints and proofs: C2SP formats checked by Go's reference packages, one
checkpoint sequence for replicas on one PostgreSQL, proofs verified offline by the CLI."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gatekeeper.audit import AuditStoreError, merkle, open_store
from gatekeeper.audit.note import Checkpoint, Note, Signer, Verifier
from gatekeeper.cli.app import app as gatekeeper
from gatekeeper.cli.audit import app as audit

from .audit_data import raw_sql, record
from .tlogcheck import run as go

runner = CliRunner()
ORIGIN = "example.com/model-gatekeeper/test"


def cli(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(audit, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def fill(url: str, n: int, start: int = 0, signer: Signer | None = None) -> None:
    async def go_() -> None:
        async with await open_store(url) as store:
            for i in range(start, start + n):
                await store.append(record(i))
            if signer is not None:
                await store.sign_checkpoint(signer, ORIGIN)

    asyncio.run(go_())


@pytest.fixture
def signer() -> Signer:
    return Signer.generate(ORIGIN)


def test_keygen_log_writes_a_go_readable_key(tmp_path, tlogcheck):
    key = tmp_path / "log.key"
    made = runner.invoke(gatekeeper, ["keygen", "--log", ORIGIN, "--out", str(key)])
    assert made.exit_code == 0, made.output
    vkey = made.stdout.strip()
    assert Verifier.parse(vkey).name == ORIGIN and vkey.startswith(ORIGIN + "+")
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    text = tmp_path / "text"
    text.write_text("hello\n")
    signed = go(tlogcheck, "sign", key.read_text(), str(text))  # Go signs with the key we wrote
    assert signed.returncode == 0, signed.stderr
    assert Note.parse(signed.stdout).signed_by(Verifier.parse(vkey))
    again = runner.invoke(gatekeeper, ["keygen", "--log", ORIGIN, "--out", str(key)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr
    bad = runner.invoke(gatekeeper, ["keygen", "--log", "has space", "--out", str(tmp_path / "k2")])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1 and "not a key name" in bad.stderr


def test_go_keys_and_notes_read_here(tmp_path, tlogcheck):
    made = go(tlogcheck, "keygen", "witness.example/w1")
    skey, vkey = made.stdout.split()
    assert str(Signer.parse(skey).verifier) == vkey
    note_file = tmp_path / "note"
    note_file.write_text(Signer.parse(skey).sign("a\nb\n"))
    opened = go(tlogcheck, "open", vkey, str(note_file))
    assert (opened.returncode, opened.stdout) == (0, "a\nb\n")


def test_checkpoints_sign_growth_only_and_go_opens_them(store_url, signer, tlogcheck, tmp_path):
    async def scenario() -> list:
        async with await open_store(store_url) as store:
            assert await store.sign_checkpoint(signer, ORIGIN) is None  # empty: nothing to sign
            for i in range(5):
                await store.append(record(i))
            first = await store.sign_checkpoint(signer, ORIGIN)
            assert await store.sign_checkpoint(signer, ORIGIN) is None  # not grown
            await store.append(record(5))
            second = await store.sign_checkpoint(signer, ORIGIN)
            return [first, second, await store.checkpoint(), (await store.tree_head()).root]

    first, second, newest, root = asyncio.run(scenario())
    assert (first.size, second.size, newest.size) == (5, 6, 6)
    assert newest.root == root
    text = f"{ORIGIN}\n6\n{base64.b64encode(root).decode()}\n"
    assert newest.note.startswith(text + "\n\u2014 " + ORIGIN + " ")
    path = tmp_path / "checkpoint"
    path.write_text(newest.note)
    opened = go(tlogcheck, "open", str(signer.verifier), str(path))
    assert (opened.returncode, opened.stdout) == (0, text)


def test_replicas_on_one_postgres_keep_one_tree_and_one_checkpoint_sequence(pg_url, signer):
    async def replica(n: int, offset: int) -> None:
        async with await open_store(pg_url) as store:
            for i in range(n):
                await store.append(record(offset + i))
                if i % 7 == 0:
                    await store.sign_checkpoint(signer, ORIGIN)
            await store.sign_checkpoint(signer, ORIGIN)

    async def scenario() -> None:
        await asyncio.gather(*(replica(40, 1000 * r) for r in range(3)))
        async with await open_store(pg_url) as store:
            assert (await store.verify(signer.verifier)).ok
            checkpoints = await store.checkpoints()
            assert checkpoints[-1].size == 120
            for older, newer in zip(checkpoints, checkpoints[1:]):
                assert newer.size > older.size
                proof = await store.consistency_proof(older.size, newer.size)
                merkle.verify_consistency(older.size, newer.size, older.root, newer.root, proof)

    asyncio.run(scenario())


def test_a_tree_edited_after_signing_is_never_signed_over(store_url, signer):
    fill(store_url, 4, signer=signer)
    fill(store_url, 2, start=4)
    hash_ = "'\\x" + "11" * 32 + "'::bytea" if store_url.startswith("postgresql") else "x'" + "11" * 32 + "'"
    raw_sql(store_url, f"UPDATE audit_tree SET hash = {hash_} WHERE level = 2 AND idx = 0")

    async def sign() -> None:
        async with await open_store(store_url) as store:
            await store.sign_checkpoint(signer, ORIGIN)

    with pytest.raises(AuditStoreError, match="no longer has the root of the signed checkpoint of size 4: refusing"):
        asyncio.run(sign())


def test_prove_and_verify_proof_offline(sqlite_url, signer, tlogcheck, tmp_path):
    fill(sqlite_url, 9, signer=signer)
    out = tmp_path / "proof.json"
    made = cli("prove", "decision-6", "--audit-db", sqlite_url, "--out", str(out))
    assert made.exit_code == 0, made.output
    doc = json.loads(out.read_text())
    assert (doc["leaf_index"], doc["tree_size"]) == (6, 9)
    vkey = str(signer.verifier)
    ok = cli("verify-proof", str(out), "--log-key", vkey)
    assert ok.exit_code == 0
    assert ok.stdout == f"proof valid: decision decision-6 is record 7 of {ORIGIN}, in its signed checkpoint of size 9\n"
    checked = go(tlogcheck, "prove", vkey, str(out))  # Go's tlog.CheckRecord agrees
    assert (checked.returncode, checked.stdout) == (0, "record 6 is in the tree of size 9\n"), checked.stderr

    other = cli("verify-proof", str(out), "--log-key", str(Signer.generate(ORIGIN).verifier))
    assert (other.exit_code, other.stdout) == (1, f"proof NOT valid: the checkpoint is not signed by the log key {ORIGIN}\n")
    doc["record"] = doc["record"].replace('"allowed":true', '"allowed":false')
    out.write_text(json.dumps(doc))
    changed = cli("verify-proof", str(out), "--log-key", vkey)
    assert changed.exit_code == 1
    assert changed.stdout == ("proof NOT valid: the record is not in the signed tree: "
                              "the inclusion proof does not lead to the root hash\n")
    missing = cli("prove", "nope", "--audit-db", sqlite_url)
    assert missing.exit_code == 2 and "no decision nope in the log" in missing.stderr


def test_prove_waits_for_a_checkpoint(sqlite_url, signer):
    fill(sqlite_url, 3, signer=signer)
    fill(sqlite_url, 1, start=3)
    late = cli("prove", "decision-3", "--audit-db", sqlite_url)
    assert late.exit_code == 2
    assert "decision decision-3 (record 4) is not in a signed checkpoint yet (the newest is of size 3" in late.stderr


def test_verify_since_an_older_checkpoint(sqlite_url, signer, tmp_path, tlogcheck):
    fill(sqlite_url, 5, signer=signer)
    older = tmp_path / "older.checkpoint"

    async def newest() -> str:
        async with await open_store(sqlite_url) as store:
            return (await store.checkpoint()).note

    older.write_text(asyncio.run(newest()))
    fill(sqlite_url, 8, start=5, signer=signer)
    vkey = str(signer.verifier)
    ok = cli("verify", "--audit-db", sqlite_url, "--since", str(older), "--log-key", vkey)
    assert ok.exit_code == 0
    assert ok.stdout == "audit log intact: 13 records; it extends the checkpoint of size 5 (newest checkpoint: size 13)\n"
    newer = tmp_path / "newer.checkpoint"
    newer.write_text(asyncio.run(newest()))

    async def proof() -> list[str]:
        async with await open_store(sqlite_url) as store:
            return [base64.b64encode(h).decode() for h in await store.consistency_proof(5, 13)]

    agreed = go(tlogcheck, "consistent", vkey, str(older), str(newer), *asyncio.run(proof()))
    assert (agreed.returncode, agreed.stdout) == (0, "tree of size 13 extends tree of size 5\n"), agreed.stderr
    forked = tmp_path / "forked.checkpoint"
    forked.write_text(signer.sign(Checkpoint(ORIGIN, 5, b"\x07" * 32).text()))
    fork = cli("verify", "--audit-db", sqlite_url, "--since", str(forked), "--log-key", vkey)
    assert fork.exit_code == 1
    assert fork.stdout == ("audit log NOT intact: the log does not extend the checkpoint of size 5 (a fork): "
                           "the consistency proof does not lead to the root hash of size 5\n")
