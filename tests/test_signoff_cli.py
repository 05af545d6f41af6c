"""keygen -> signoff create -> signoff verify -> the gate counts the sign-off."""

import json
import shutil

import yaml

from .conftest import EVIDENCE, MANIFESTS, POLICIES, run_cli


def test_a_new_compliance_signoff_completes_a_model(tmp_path):
    policies, evidence = tmp_path / "policies", tmp_path / "evidence"
    shutil.copytree(POLICIES, policies)
    shutil.copytree(EVIDENCE, evidence)
    key = tmp_path / "erin.pem"

    made = run_cli("keygen", "--out", str(key), "--name", "erin@example.com", "--role", "compliance")
    assert made.code == 0, made.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    entry = yaml.safe_load(made.stdout)[0]
    signers_file = policies / "gatekeeper" / "signers" / "signers.yaml"
    signers = yaml.safe_load(signers_file.read_text())
    signers["signers"].append(entry)
    signers_file.write_text(yaml.safe_dump(signers))

    manifest = MANIFESTS / "noncompliant" / "signoff-credit-scoring-9.yaml"
    before = run_cli("check", "--policy-dir", str(policies), "--evidence", str(evidence), str(manifest))
    assert before.code == 1

    out = evidence / "credit-scoring" / "9" / "signoffs" / "compliance.dsse.json"
    created = run_cli("signoff", "create", "--model", "credit-scoring", "--version", "9", "--role", "compliance",
                      "--key", str(key), "--evidence", str(evidence), "--policy-dir", str(policies), "--out", str(out))
    assert created.code == 0, created.stderr
    # No hand edit: the bundle does not list the new file; its signoffs/ folder is read.
    bundle = yaml.safe_load((evidence / "credit-scoring" / "9" / "evidence.yaml").read_text())
    assert "signoffs/compliance.dsse.json" not in bundle["signoffs"]

    verified = run_cli("signoff", "verify", str(out), "--policy-dir", str(policies))
    assert verified.code == 0, verified.stderr
    facts = json.loads(verified.stdout)
    assert facts["predicate"]["signer"] == "erin@example.com" and facts["predicate"]["role"] == "compliance"
    assert facts["subject_digests"] == [bundle["artifact"]["digest"]]

    after = run_cli("check", "--policy-dir", str(policies), "--evidence", str(evidence), str(manifest))
    assert after.code == 0, after.stdout


def test_tampered_signoff_fails_verify_and_the_gate(tmp_path):
    evidence = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, evidence)
    envelope_file = evidence / "credit-scoring" / "3" / "signoffs" / "compliance.dsse.json"
    envelope = json.loads(envelope_file.read_text())
    sig = envelope["signatures"][0]["sig"]
    envelope["signatures"][0]["sig"] = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    envelope_file.write_text(json.dumps(envelope))

    verified = run_cli("signoff", "verify", str(envelope_file))
    assert verified.code == 1 and "does not verify against a trusted key" in verified.stderr

    checked = run_cli("check", "--format", "json", "--evidence", str(evidence),
                      str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml"))
    assert checked.code == 1
    [violation] = checked.json()["results"][0]["violations"]
    assert violation["requirement"] == "signoff.role" and "signoffs/compliance.dsse.json" in violation["message"]


def test_keygen_never_overwrites_a_key(tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("existing")
    result = run_cli("keygen", "--out", str(key), "--name", "x@example.com")
    assert result.code == 2 and "refusing to overwrite" in result.stderr and key.read_text() == "existing"


def test_signoff_create_needs_a_digest(tmp_path):
    key = tmp_path / "k.pem"
    assert run_cli("keygen", "--out", str(key), "--name", "x@example.com").code == 0
    result = run_cli("signoff", "create", "--model", "nope", "--version", "1", "--role", "validator",
                     "--key", str(key), "--signer", "x@example.com")
    assert result.code == 2 and "no evidence for nope version 1" in result.stderr


def signer_key(tmp_path):
    key = tmp_path / "k.pem"
    assert run_cli("keygen", "--out", str(key), "--name", "x@example.com").code == 0
    return key


def test_a_signoff_that_would_be_expired_when_written_is_refused(tmp_path):
    key = signer_key(tmp_path)
    for expires in ("-1d", "0d", "0h"):
        result = run_cli("signoff", "create", "--model", "credit-scoring", "--version", "3", "--role", "validator",
                         "--key", str(key), "--signer", "x@example.com", "--digest", "sha256:" + "a" * 64,
                         f"--expires={expires}", "--out", str(tmp_path / "s.json"))
        assert result.code == 2 and result.stdout == ""
        assert result.stderr == f"gatekeeper: --expires must be a positive duration (got '{expires}')\n"
        assert not (tmp_path / "s.json").exists()


def test_verify_reports_an_expired_or_not_yet_valid_signoff(tmp_path):
    envelope = EVIDENCE / "credit-scoring" / "3" / "signoffs" / "validator.dsse.json"
    predicate = json.loads(run_cli("signoff", "verify", str(envelope), "--policy-dir", str(POLICIES)).stdout)["predicate"]
    policies = ["--policy-dir", str(POLICIES)]
    in_force = run_cli("signoff", "verify", str(envelope), *policies, "--at", predicate["signed_at"])
    assert in_force.code == 0, in_force.stderr
    expired = run_cli("signoff", "verify", str(envelope), *policies, "--at", predicate["expires_at"])
    assert expired.code == 1
    assert expired.stderr == f"gatekeeper: {envelope}: expired on {predicate['expires_at']}\n"
    early = run_cli("signoff", "verify", str(envelope), *policies, "--at", "2020-01-01T00:00:00Z")
    assert early.code == 1
    assert early.stderr == (f"gatekeeper: {envelope}: not yet valid: signed_at {predicate['signed_at']} is in the "
                            "future\n")
    bad = run_cli("signoff", "verify", str(envelope), *policies, "--at", "tomorrow")
    assert bad.code == 2 and bad.stderr == "gatekeeper: --at 'tomorrow' is not an RFC 3339 time (e.g. 2026-12-01T00:00:00Z)\n"
