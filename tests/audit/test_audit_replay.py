"""`gatekeeper audit replay`: a decision the gate made (real OPA, real evidence) replayed from
the stored input and bundle, after the policy folder changed; on other policies; from a
tampered store; a range; records that cannot be replayed. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from typer.testing import CliRunner

from gatekeeper.audit import open_store
from gatekeeper.cli.audit import app as audit
from gatekeeper.config import Settings
from gatekeeper.opa import bundle
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest
from gatekeeper.types.canonical import canonical_json

from ..conftest import EVIDENCE, MANIFESTS, POLICIES
from .audit_data import raw_sql, record

runner = CliRunner()
MANIFEST = MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"


def cli(*args: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(audit, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def decide(url: str, policies: Path, *, allowed: bool = True) -> tuple[str, str, str]:
    """The gate decides the compliant example and records it: (decision ID, input digest, revision)."""
    async def run():  # type: ignore[no-untyped-def]
        async with await open_store(url) as store, open_gate(
                Settings(policy_dir=policies, evidence_dir=EVIDENCE), audit=store) as gate:
            evaluation = await gate.evaluate([Manifest(yaml.safe_load(MANIFEST.read_text()))], "production")
            decision = evaluation.report.results[0]
            assert decision.allowed is allowed and bool(decision.violations) is not allowed, evaluation
            recorded = (await store.list(limit=1))[0]
            return recorded.decision_id, recorded.input_digest, recorded.policy_revision

    return asyncio.run(run())


def tighten(policies: Path) -> None:
    """The compliance team raises the high-risk fairness floor above the example's ratios."""
    path = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix = yaml.safe_load(path.read_text())
    matrix["risk_classes"]["high"]["fairness"]["demographic_parity_ratio_min"] = 0.95
    path.write_text(yaml.safe_dump(matrix, sort_keys=False))


async def append_error(url: str) -> None:
    async with await open_store(url) as store:
        await store.append(record(2, allowed=False, error="owner not confirmed"))


def set_blob(url: str, table: str, column: str, key_column: str, key: str, blob: bytes) -> None:
    value = f"decode('{blob.hex()}', 'hex')" if url.startswith("postgresql://") else f"X'{blob.hex()}'"
    raw_sql(url, f"UPDATE {table} SET {column} = {value} WHERE {key_column} = '{key}'")


def test_replay_after_the_policy_changed_and_on_the_changed_policy(store_url, tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    decision_id, input_digest, revision = decide(store_url, policies)
    assert input_digest and revision.startswith("sha256:")
    tighten(policies)  # the folder moves on; the stored bundle does not

    same = cli("replay", decision_id, "--audit-db", store_url)
    assert same.exit_code == 0, same.output
    assert same.stdout.startswith(f"identical: decision {decision_id} (record 1, policy revision {revision}) "
                                  "replayed on its stored policy bundle gives the recorded decision")
    assert same.stderr == ""  # the same OPA: no version note

    today = cli("replay", decision_id, "--audit-db", store_url, "--policy-dir", str(policies))
    assert today.exit_code == 1, today.output
    lines = today.stdout.splitlines()
    assert lines[0] == f"differs: decision {decision_id} (record 1, policy revision {revision}) replayed on {policies}:"
    assert "  allowed flipped: allowed -> denied" in lines
    assert "  requirement added: fairness.demographic_parity_ratio (credit-scoring@3)" in lines

    # Another OPA version evaluated it: said on stderr, and still compared.
    raw_sql(store_url, f"UPDATE audit_bundles SET opa_version = '0.70.0' WHERE revision = '{revision}'")
    older = cli("replay", decision_id, "--audit-db", store_url)
    assert older.exit_code == 0 and older.stdout.startswith("identical: ")
    assert older.stderr.startswith("gatekeeper: OPA 1.") and older.stderr.endswith(
        f" replays decisions that OPA 0.70.0 made (policy revision {revision})\n")

    # A range: one decision, replayed on its stored bundle and on the changed folder.
    assert cli("replay", "--since", "1d", "--audit-db", store_url).stdout.endswith(
        "on their stored policy bundles: 1 identical, 0 differ, 0 cannot be replayed\n")
    ranged = cli("replay", "--since", "1d", "--audit-db", store_url, "--policy-dir", str(policies))
    assert ranged.exit_code == 1
    assert ranged.stdout.splitlines()[0].startswith(f"differs: decision {decision_id} (record 1, ")
    assert ranged.stdout.endswith(f"on {policies}: 0 identical, 1 differ, 0 cannot be replayed\n")

    # Decided again under the changed policy: two revisions, two bundles, each replays as it was.
    _, _, later_revision = decide(store_url, policies, allowed=False)
    assert later_revision != revision
    both = cli("replay", "--since", "1d", "--audit-db", store_url)
    assert (both.exit_code, both.stdout.splitlines()[-1].split(": ", 1)[1]) == (
        0, "2 identical, 0 differ, 0 cannot be replayed")

    # Tampering, each named: the stored input, then the stored bundle.
    async def stored():  # type: ignore[no-untyped-def]
        async with await open_store(store_url) as store:
            return await store.input(input_digest), await store.bundle(revision)

    original_input, original_bundle = asyncio.run(stored())
    edited = {**original_input, "now": "2020-01-01T00:00:00Z"}
    set_blob(store_url, "audit_inputs", "input", "digest", input_digest, zlib.compress(canonical_json(edited)))
    tampered = cli("replay", decision_id, "--audit-db", store_url)
    assert tampered.exit_code == 2 and tampered.stdout == ""
    assert tampered.stderr == (f"gatekeeper: the stored input {input_digest} was changed: "
                               "its content does not match its digest\n")
    set_blob(store_url, "audit_inputs", "input", "digest", input_digest, zlib.compress(canonical_json(original_input)))

    modules, data, _ = bundle.read(original_bundle.bundle)
    data["gatekeeper/matrix"]["risk_classes"]["high"]["fairness"]["demographic_parity_ratio_min"] = 0.5
    set_blob(store_url, "audit_bundles", "bundle", "revision", revision, bundle.build(modules, data))
    swapped = cli("replay", decision_id, "--audit-db", store_url)
    assert swapped.exit_code == 2 and swapped.stderr.count("\n") == 1
    assert swapped.stderr.startswith(f"gatekeeper: the stored bundle of policy revision {revision} was changed: "
                                     "it holds sha256:")
    set_blob(store_url, "audit_bundles", "bundle", "revision", revision, b"\x1f\x8b not a bundle")
    broken = cli("replay", "--since", "1d", "--audit-db", store_url)
    assert broken.exit_code == 2 and broken.stderr.startswith(
        f"gatekeeper: the stored bundle of policy revision {revision} was changed: not a readable OPA bundle")


def test_what_cannot_be_replayed_says_why(store_url, tmp_path):
    old = datetime(2020, 3, 1, tzinfo=timezone.utc)

    async def fill():  # type: ignore[no-untyped-def]
        async with await open_store(store_url) as store:
            await store.append(record(0))  # as written before inputs were kept
            await store.append(record(1).model_copy(update={"time": old}), {"now": "2020-03-01T00:00:00Z"})
            await store.prune(datetime(2021, 1, 1, tzinfo=timezone.utc), datetime.now(timezone.utc), timedelta(days=183))

    asyncio.run(fill())
    before = cli("replay", "decision-0", "--audit-db", store_url)
    assert (before.exit_code, before.stdout) == (2, "")
    assert before.stderr == ("gatekeeper: decision decision-0 (record 1, policy revision sha256:policy) cannot be "
                             "replayed: it was recorded before the gate kept OPA inputs (no input_digest)\n")
    pruned = cli("replay", "decision-1", "--audit-db", store_url)
    assert pruned.exit_code == 2 and "cannot be replayed: its record was pruned (audit prune)" in pruned.stderr
    asyncio.run(append_error(store_url))
    failed = cli("replay", "decision-2", "--audit-db", store_url)
    assert failed.exit_code == 2 and failed.stderr.endswith(
        "cannot be replayed: no input was stored with it (it records an error: owner not confirmed)\n")
    assert cli("replay", "nope", "--audit-db", store_url).stderr.endswith(": no decision nope in the log\n")
    assert cli("replay", "--audit-db", store_url).exit_code == 2  # neither an ID nor a range
    ranged = cli("replay", "--since", "2019-01-01", "--audit-db", store_url)
    assert ranged.exit_code == 0
    assert ranged.stdout.endswith(": 0 identical, 0 differ, 3 cannot be replayed (it was recorded before the gate "
                                  "kept OPA inputs (no input_digest); its record was pruned "
                                  "(audit prune): the input went with it; no input was stored with it (it records "
                                  "an error: owner not confirmed))\n")
