"""Signed statements: sign-offs and waivers as DSSE envelopes of in-toto Statement v1.

Python verifies signatures against the trusted keys (trust.py: policy data the compliance
team owns); Rego decides whether a verified statement satisfies a requirement (role, quorum,
expiry, digest binding). Unverified content is still passed on, marked invalid, so the
policy can say which sign-off was rejected and why.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from securesystemslib import dsse
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner

from gatekeeper.evidence.signing.errors import SigningError
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.types.canonical import canonical_json

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SIGNOFF_PREDICATE = "https://model-gatekeeper.io/signoff/v1"
WAIVER_PREDICATE = "https://model-gatekeeper.io/waiver/v1"


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    digest: dict[str, str] = Field(min_length=1)


class Statement(BaseModel):
    """in-toto Statement v1, strict: what we sign is exactly what we verify."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type_: Literal["https://in-toto.io/Statement/v1"] = Field(STATEMENT_TYPE, alias="_type")
    subject: list[Subject] = Field(min_length=1)
    predicate_type: str = Field(alias="predicateType")
    predicate: dict[str, Any]


def generate_key() -> tuple[bytes, dict[str, str]]:
    """A new Ed25519 key: (private PEM, public entry for signers.yaml)."""
    signer = CryptoSigner.generate_ed25519()
    public = signer.public_key
    entry = {"keyid": public.keyid, "keytype": public.keytype, "scheme": public.scheme, "public": public.keyval["public"]}
    return signer.private_bytes, entry


def load_signer(path: str | Path) -> CryptoSigner:
    try:
        private = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        return CryptoSigner(private)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningError(f"private key {path}: cannot be loaded ({exc})") from None


def parse_duration(text: str) -> timedelta:
    """'180d', '12h', '30m' -> timedelta."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    try:
        return timedelta(**{units[text[-1]]: int(text[:-1])})
    except (KeyError, ValueError, IndexError):
        raise SigningError(f"'{text}' is not a duration like 180d, 12h or 30m") from None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def sign_statement(
    *, predicate_type: str, subject_name: str, digest: str, predicate: dict[str, Any], signer: CryptoSigner
) -> dict[str, Any]:
    """A DSSE envelope (as a dict ready for JSON) holding a signed in-toto statement."""
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or len(value) != 64:
        raise SigningError(f"'{digest}' is not an artifact digest of the form sha256:<64 hex>")
    statement = Statement(
        subject=[Subject(name=subject_name, digest={"sha256": value})],
        predicateType=predicate_type,
        predicate=predicate,
    )
    return sign_envelope(statement, signer)


def sign_envelope(statement: Statement, signer: CryptoSigner) -> dict[str, Any]:
    """The statement as canonical JSON, signed into a DSSE envelope (a dict ready for JSON)."""
    envelope = dsse.Envelope(canonical_json(statement.model_dump(by_alias=True)), PAYLOAD_TYPE, {})
    envelope.sign(signer)
    return envelope.to_dict()


def signoff_predicate(*, model: str, version: str, role: str, signer: str, expires: timedelta, reviewed: dict,
                      comment: str = "", now: datetime | None = None) -> dict:
    """What a sign-off states; `reviewed` is what the signer reviewed: `{artifact_uri, sections:
    {name: digest}}` (evidence.sections), so an edit after signing voids it."""
    now = now or datetime.now(timezone.utc)
    predicate = {"model": model, "version": version, "role": role, "signer": signer,
                 "signed_at": rfc3339(now), "expires_at": rfc3339(now + expires), "reviewed": reviewed}
    if comment:
        predicate["comment"] = comment
    return predicate


def verify_statement(raw: bytes | None, source: str, trust: TrustStore) -> dict[str, Any]:
    """Facts about one signed statement for the policy input (docs/policy-input.md)."""
    facts: dict[str, Any] = {"source": source, "signature_valid": False, "error": None, "keyid": None,
                             "subject_digests": [], "subjects": [], "predicate_type": None, "predicate": {}}
    if raw is None:
        facts["error"] = "file not found in the evidence"
        return facts
    try:
        envelope = dsse.Envelope.from_dict(json.loads(raw))  # from_dict consumes its argument
        statement = Statement.model_validate_json(envelope.payload)
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        facts["error"] = f"not a DSSE envelope of an in-toto Statement v1 ({_short(exc)})"
        return facts
    facts["predicate_type"] = statement.predicate_type
    facts["predicate"] = statement.predicate
    facts["subject_digests"] = [f"{alg}:{value}" for s in statement.subject for alg, value in s.digest.items()]
    facts["subjects"] = [{"name": s.name, "digest": f"{alg}:{value}"} for s in statement.subject
                         for alg, value in s.digest.items()]
    if envelope.payload_type != PAYLOAD_TYPE:
        facts["error"] = f"payload type is {envelope.payload_type}, expected {PAYLOAD_TYPE}"
        return facts
    try:
        verified = envelope.verify(list(trust.keys.values()), 1)
    except VerificationError:
        keyids = ", ".join(s.keyid for s in envelope.signatures.values()) or "none"
        facts["error"] = f"signature does not verify against a trusted key (key ids: {keyids})"
        return facts
    facts["signature_valid"] = True
    facts["keyid"] = next(iter(verified))
    return facts


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
