"""Signed sign-offs: DSSE envelopes of in-toto Statement v1, verified against trusted keys."""

import base64
import json
from datetime import timedelta

import pytest
from securesystemslib.signer import CryptoSigner

from gatekeeper.evidence.signing.statements import (
    SIGNOFF_PREDICATE,
    SigningError,
    sign_statement,
    signoff_predicate,
    verify_statement,
)
from gatekeeper.evidence.signing.trust import TrustStore

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def signer():
    return CryptoSigner.generate_ed25519()


def envelope_bytes(signer, digest=DIGEST, role="validator"):
    predicate = signoff_predicate(model="m", version="1", role=role, signer="alice@example.com", expires=timedelta(days=1),
                                  reviewed={"artifact_uri": "s3://models/m/1", "sections": {}})
    return json.dumps(sign_statement(predicate_type=SIGNOFF_PREDICATE, subject_name="models:/m/1",
                                     digest=digest, predicate=predicate, signer=signer)).encode()


def trust(*signers):
    return TrustStore({s.public_key.keyid: s.public_key for s in signers})


def test_valid_envelope_states_subject_and_predicate(signer):
    facts = verify_statement(envelope_bytes(signer), "s.dsse.json", trust(signer))
    assert facts["signature_valid"] and facts["error"] is None
    assert facts["keyid"] == signer.public_key.keyid
    assert facts["subject_digests"] == [DIGEST]
    assert facts["subjects"] == [{"name": "models:/m/1", "digest": DIGEST}]
    assert facts["predicate"]["role"] == "validator" and facts["predicate_type"] == SIGNOFF_PREDICATE


def test_tampered_payload_fails_but_keeps_the_claim_for_the_message(signer):
    envelope = json.loads(envelope_bytes(signer))
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["role"] = "compliance"
    envelope["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    facts = verify_statement(json.dumps(envelope).encode(), "s", trust(signer))
    assert not facts["signature_valid"]
    assert "does not verify against a trusted key" in facts["error"]
    assert facts["predicate"]["role"] == "compliance"


def test_untrusted_key_fails(signer):
    facts = verify_statement(envelope_bytes(signer), "s", trust(CryptoSigner.generate_ed25519()))
    assert not facts["signature_valid"]


def test_wrong_payload_type_fails(signer):
    envelope = json.loads(envelope_bytes(signer))
    envelope["payloadType"] = "text/plain"
    facts = verify_statement(json.dumps(envelope).encode(), "s", trust(signer))
    assert not facts["signature_valid"] and "payload type" in facts["error"]


@pytest.mark.parametrize("raw", [None, b"not json", b'{"payload": "e30=", "payloadType": "x", "signatures": []}'])
def test_missing_or_garbled_envelopes_are_invalid_with_a_reason(raw):
    facts = verify_statement(raw, "s", TrustStore({}))
    assert not facts["signature_valid"] and facts["error"]


def test_digest_must_be_a_sha256(signer):
    with pytest.raises(SigningError, match="sha256:<64 hex>"):
        envelope_bytes(signer, digest="md5:abc")
