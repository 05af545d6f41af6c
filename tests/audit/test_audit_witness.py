"""Checkpoints cosigned by a real litewitness (C2SP tlog-witness): it only cosigns what
verifies, so its cosignature proves our checkpoint, key and proofs are what the spec says."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import pytest
from typer.testing import CliRunner

from prometheus_client import REGISTRY

from gatekeeper.audit import open_store
from gatekeeper.audit.note import Note, Signer, Verifier
from gatekeeper.audit.witness import Witness, WitnessError, add_checkpoint
from gatekeeper.cli.audit import app as audit
from gatekeeper.webhook.checkpoints import CheckpointSigner

from .audit_data import record
from .litewitness import LiteWitness

runner = CliRunner()
_origins = itertools.count(1)


@pytest.fixture(scope="module")
def witness():
    server = LiteWitness().start()
    yield server
    server.cleanup()


@pytest.fixture
def log(witness):
    """A new log origin with its key, registered with the witness."""
    origin = f"example.com/model-gatekeeper/witnessed-{next(_origins)}"
    signer = Signer.generate(origin)
    witness.add_log(origin, str(signer.verifier))
    return origin, signer


async def _grow(url: str, signer: Signer, origin: str, n: int, start: int = 0):  # type: ignore[no-untyped-def]
    async with await open_store(url) as store:
        for i in range(start, start + n):
            await store.append(record(i))
        return await store.sign_checkpoint(signer, origin)


def test_litewitness_cosigns_the_gates_checkpoints_and_proofs_carry_it(witness, log, sqlite_url, tmp_path):
    origin, signer = log
    target = Witness.parse(f"{witness.url}={witness.vkey}")

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            first = await _grow(sqlite_url, signer, origin, 3)
            async with await open_store(sqlite_url) as store:
                line = await add_checkpoint(client, target, first.note, first.size, store)
                await store.add_cosignature(first.size, str(target.key), line)
            second = await _grow(sqlite_url, signer, origin, 6, start=3)
            async with await open_store(sqlite_url) as store:  # from size 3 to 9: with a consistency proof
                line = await add_checkpoint(client, target, second.note, second.size, store)
                await store.add_cosignature(second.size, str(target.key), line)
                newest = await store.checkpoint()
        assert Note.parse(Note.parse(newest.note).with_lines(newest.cosignatures)).cosigned_by(target.key)

    asyncio.run(scenario())
    out = tmp_path / "proof.json"
    assert runner.invoke(audit, ["prove", "decision-1", "--audit-db", sqlite_url, "--out", str(out)]).exit_code == 0
    ok = runner.invoke(audit, ["verify-proof", str(out), "--log-key", str(signer.verifier),
                               "--witness-key", witness.vkey, "--min-witnesses", "1"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.endswith(f"in its signed checkpoint of size 9; cosigned by {Verifier.parse(witness.vkey).name}\n")
    other = runner.invoke(audit, ["verify-proof", str(out), "--log-key", str(signer.verifier),
                                  "--witness-key", _cosigner_vkey(), "--min-witnesses", "1"])
    assert (other.exit_code, other.stdout) == (1, "proof NOT valid: 0 of the given witnesses cosigned the "
                                                  "checkpoint, 1 required\n")


def _cosigner_vkey() -> str:
    """Some other witness's verifier key (type 0x04), never used to cosign here."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    name = "witness.example/other"
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    encoded = base64.b64encode(bytes([4]) + public).decode()
    return f"{name}+{key_id.hex()}+{encoded}"


def test_a_witness_ahead_of_us_answers_409_and_we_catch_up(witness, log, sqlite_url):
    origin, signer = log

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            first = await _grow(sqlite_url, signer, origin, 4)
            async with await open_store(sqlite_url) as store:
                await add_checkpoint(client, Witness.parse(f"{witness.url}={witness.vkey}"), first.note, 4, store)
            second = await _grow(sqlite_url, signer, origin, 3, start=4)
            # Another replica's view: it never talked to the witness (old size 0 -> 409 4 -> retry from 4).
            fresh = Witness.parse(f"{witness.url}={witness.vkey}")
            async with await open_store(sqlite_url) as store:
                line = await add_checkpoint(client, fresh, second.note, 7, store)
            assert fresh.known_size == 7 and line.startswith("\u2014 ")

    asyncio.run(scenario())


def test_a_fork_is_refused_by_the_witness_with_422(witness, log, tmp_path):
    origin, signer = log
    honest, forked = f"sqlite:///{tmp_path}/honest.db", f"sqlite:///{tmp_path}/forked.db"

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            target = Witness.parse(f"{witness.url}={witness.vkey}")
            first = await _grow(honest, signer, origin, 4)
            async with await open_store(honest) as store:
                await add_checkpoint(client, target, first.note, 4, store)
            # The same key signs a different history (records 0,1,2 then 40..): not an extension.
            await _grow(forked, signer, origin, 3)
            other = await _grow(forked, signer, origin, 5, start=40)
            async with await open_store(forked) as store:
                with pytest.raises(WitnessError, match=r"refused the checkpoint of size 8 as inconsistent with the "
                                                       r"size 4 it cosigned \(422\)"):
                    await add_checkpoint(client, target, other.note, 8, store)

    asyncio.run(scenario())


def test_a_witness_down_never_stops_signing(log, sqlite_url):
    origin, signer = log
    down = Witness.parse(f"http://127.0.0.1:9={Verifier.parse(_cosigner_vkey())}")
    now = [1000.0]

    async def scenario() -> None:
        async with await open_store(sqlite_url) as store:
            gate = CheckpointSigner(store, signer, origin, 10, [down], clock=lambda: now[0])
            await store.append(record(1))
            await gate.sign()
            newest = await store.checkpoint()
            assert (newest.size, newest.cosignatures) == (1, [])
            now[0] += 120
            age = REGISTRY.get_sample_value("gatekeeper_log_cosigned_checkpoint_age_seconds",
                                            {"witness": down.key.name})
            assert age == 120

    asyncio.run(scenario())


def test_witness_flag_is_checked():
    with pytest.raises(ValueError, match="expected URL=VERIFIER_KEY"):
        Witness.parse("witness.example/w1+abcd+AAAA")
