"""`gatekeeper report model`: the evidence pack, from the example evidence, a real OPA and a
real SQLite decision log written by the real gate and store (tests/reports/pack_log.py).

The golden files are the packs as they should read. When a change to the policies, the
examples or the pack is meant to change them, regenerate and review the diff:
`GATEKEEPER_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/reports/test_evidence_pack.py`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.audit.conftest import pg_database, pg_url, postgres_server  # noqa: F401 - fixtures
from tests.conftest import EVIDENCE, run_cli

from .pack_log import build

GOLDEN = Path(__file__).parent / "golden"
AT = "2026-12-01T00:00:00Z"
UPDATE = os.environ.get("GATEKEEPER_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def log_url(opa_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    return build(opa_url, tmp_path_factory.mktemp("pack") / "audit.db")


def pack(opa_url: str, *args: str, evidence: Path = EVIDENCE):
    return run_cli("report", "model", *args, "--evidence", str(evidence), "--opa-url", opa_url, "--at", AT)


def normalized(text: str) -> str:
    """The pack with the policy revision and its own digest (which covers the revision) in
    words: any edit of any policy module changes the revision, and the golden files are
    about what the pack shows (the digest is checked by the tests below)."""
    revision = re.search(r'"revision": "(sha256:[0-9a-f]{64})"|Policy revision(?:\*\*: |</dt><dd>)(sha256:[0-9a-f]{64})', text)
    assert revision, "the pack names no policy revision"
    text = text.replace(revision.group(1) or revision.group(2), "sha256:<policy revision>")
    return re.sub(r'[0-9a-f]{64}(?="?( -->)?\n(}\n)?$)', "<its digest>", text)


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_golden(opa_url: str, log_url: str, fmt: str) -> None:
    result = pack(opa_url, "credit-scoring@3", "--format", fmt, "--audit-db", log_url)
    assert result.code == 0, result.stderr
    golden = GOLDEN / f"credit-scoring-3.{fmt}"
    if UPDATE:
        golden.write_text(normalized(result.stdout))
    assert normalized(result.stdout) == golden.read_text(), f"the pack differs from {golden} (see the module docstring)"


def test_the_same_log_in_postgresql_gives_the_same_pack(opa_url: str, log_url: str, pg_url: str) -> None:  # noqa: F811
    """The store is not part of the pack: the same decisions recorded in PostgreSQL give
    the same bytes as in SQLite."""
    sqlite = pack(opa_url, "credit-scoring@3", "--format", "json", "--audit-db", log_url)
    postgres = pack(opa_url, "credit-scoring@3", "--format", "json", "--audit-db", build(opa_url, pg_url))
    assert postgres.code == 0, postgres.stderr
    assert postgres.stdout == sqlite.stdout


def test_same_inputs_same_bytes_and_its_own_digest(opa_url: str, log_url: str, tmp_path: Path) -> None:
    out = tmp_path / "pack.md"
    first = pack(opa_url, "credit-scoring@3", "--audit-db", log_url, "--output", str(out))
    assert first.code == 0, first.stderr
    again = pack(opa_url, "credit-scoring@3", "--audit-db", log_url)
    data = out.read_bytes()
    assert again.stdout.encode() == data
    body, _, last = data.rstrip(b"\n").rpartition(b"\n")
    assert last.decode().endswith(hashlib.sha256(body + b"\n").hexdigest())


def test_json_pack_content(opa_url: str, log_url: str) -> None:
    result = pack(opa_url, "credit-scoring@3", "--format", "json", "--audit-db", log_url)
    text = result.stdout
    document = json.loads(text)
    head = "".join(text.splitlines(keepends=True)[:-2]).encode()
    assert document["sha256"] == hashlib.sha256(head).hexdigest()
    assert document["classification"]["risk_class"] == "high"
    assert document["fairness"]["requirement"]["demographic_parity_ratio_min"] == 0.8  # the matrix's, via OPA
    assert sorted(document["fairness"]["attributes"]) == ["age_band", "sex"]
    summaries = [r["summary"] for r in document["decisions"]["records"]]
    # churn-predictor's admission is not about this version
    assert [(s["source"], s["outcome"], s["environment"]) for s in summaries] == [
        ("webhook", "admitted", "production"), ("webhook", "denied", "production"),
        ("background", "admitted", "production"), ("api", "warned", "staging")]
    assert summaries[1]["violations"] == ["artifact.storage_uri_mismatch"]
    proofs = [r["proof"]["status"] for r in document["decisions"]["records"]]
    assert proofs == ["verified", "verified", "verified", "not in a signed checkpoint yet"]
    roles = {s["role"]: s for s in document["signoffs"]["statements"]}
    assert roles["validator"]["signature_valid"] and roles["validator"]["rejections"] == []
    assert roles["validator"]["keyid"] and roles["validator"]["key_owners"] == [roles["validator"]["signer"]]
    assert document["placements"] is None  # no --kubeconfig: not asked


def test_the_proofs_check_with_audit_verify_proof(opa_url: str, log_url: str, tmp_path: Path) -> None:
    """A proof in the pack is the one `audit prove` gives: `audit verify-proof` accepts it."""
    document = json.loads(pack(opa_url, "credit-scoring@3", "--format", "json", "--audit-db", log_url).stdout)
    from gatekeeper.audit.record import canonical_json

    entry = document["decisions"]["records"][1]
    proof = {"format": "model-gatekeeper/audit-proof/v1", "decision_id": entry["record"]["decision_id"],
             "leaf_index": entry["proof"]["leaf_index"], "record": canonical_json(entry["record"]),
             "tree_size": entry["proof"]["tree_size"], "inclusion_proof": entry["proof"]["inclusion_proof"],
             "checkpoint": document["decisions"]["checkpoint"]}
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    from .pack_log import LOG_KEY

    result = run_cli("audit", "verify-proof", str(tmp_path / "proof.json"), "--log-key", str(LOG_KEY.verifier))
    assert result.code == 0, result.stderr
    assert "proof valid" in result.stdout


def test_unknown_model_exits_2_with_one_line(opa_url: str, log_url: str) -> None:
    result = pack(opa_url, "credit-scoring@99", "--audit-db", log_url)
    assert result.code == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "unknown model version credit-scoring@99" in result.stderr


def test_bad_reference_exits_2(opa_url: str) -> None:
    result = pack(opa_url, "credit-scoring")
    assert result.code == 2 and "expected NAME@VERSION" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_tampered_signoff_shows_as_not_verified(opa_url: str, tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    shutil.copytree(EVIDENCE / "credit-scoring" / "3", root / "credit-scoring" / "3")
    signoff = root / "credit-scoring" / "3" / "signoffs" / "validator.dsse.json"
    envelope = json.loads(signoff.read_text())
    import base64

    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["predicate"]["expires_at"] = "2099-01-01T00:00:00Z"  # a longer validity, by hand
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    signoff.write_text(json.dumps(envelope))
    result = pack(opa_url, "credit-scoring@3", "--format", "json", evidence=root)
    assert result.code == 0, result.stderr
    roles = {s["role"]: s for s in json.loads(result.stdout)["signoffs"]["statements"]}
    assert roles["validator"]["signature_valid"] is False
    assert roles["validator"]["rejections"][0].startswith("signature not valid")
    assert roles["compliance"]["signature_valid"] is True
    markdown = pack(opa_url, "credit-scoring@3", evidence=root).stdout
    row = next(line for line in markdown.splitlines() if line.startswith("| signoffs/validator.dsse.json"))
    assert "not verified: signature does not verify against a trusted key" in row
    assert "| no: signature not valid" in row


def test_html_is_one_file_a_browser_opens(opa_url: str, log_url: str, tmp_path: Path) -> None:
    out = tmp_path / "pack.html"
    result = pack(opa_url, "credit-scoring@3", "--format", "html", "--audit-db", log_url, "--output", str(out))
    assert result.code == 0, result.stderr
    html = out.read_text()
    for external in ("<script", "<link", " src=", "@import", "url("):
        assert external not in html
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium not found: install Debian's chromium (the browser tests need it)", pytrace=False)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--dump-dom", out.as_uri()],
            capture_output=True, text=True, timeout=120).stdout
    assert "<title>Evidence pack: credit-scoring@3</title>" in dom
    assert "Decisions about this version" in dom and "verified: leaf 1 of 4" in dom


def test_a_decision_the_pack_says_has_its_input_stored_replays(opa_url: str, log_url: str) -> None:
    """The walk-through's two steps agree: a decision listed with its input stored replays."""
    document = json.loads(pack(opa_url, "credit-scoring@3", "--format", "json", "--audit-db", log_url).stdout)
    denial = document["decisions"]["records"][1]["summary"]
    assert denial["outcome"] == "denied" and denial["input_digest"]
    result = run_cli("audit", "replay", denial["decision_id"], "--audit-db", log_url)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("identical")
