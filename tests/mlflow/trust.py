"""Trust data for tests: a copy of policies/ whose signers include keys the tests hold.

The example signers' private keys were discarded (scripts/make-examples.py), so tests that
sign new sign-offs and waivers add their own people: a validator, a compliance officer
(the waiver approver role) and a model owner without roles.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from securesystemslib.signer import CryptoSigner

from gatekeeper.evidence.sections import review, reviewed_sections
from gatekeeper.evidence.signing.statements import SIGNOFF_PREDICATE, rfc3339, sign_statement, signoff_predicate
from gatekeeper.cli.signing import sign_waiver

from ..conftest import POLICIES

PEOPLE = {
    "vera@example.com": ["validator"],
    "cora@example.com": ["compliance"],
    "omar@example.com": [],  # owns the test models; `owner` comes from the evidence
}


@dataclass
class Trust:
    policy_dir: Path
    keys: dict[str, CryptoSigner] = field(default_factory=dict)
    key_files: dict[str, Path] = field(default_factory=dict)

    def signoff(self, who: str, *, model: str, version: str, role: str, digest: str, reviewed: dict[str, Any],
                expires: timedelta = timedelta(days=30)) -> bytes:
        """`reviewed`: what the signer reviewed (reviewed_evidence), as `gatekeeper signoff create` states it."""
        predicate = signoff_predicate(model=model, version=version, role=role, signer=who, expires=expires,
                                      reviewed=reviewed)
        envelope = sign_statement(predicate_type=SIGNOFF_PREDICATE, subject_name=f"models:/{model}/{version}",
                                  digest=digest, predicate=predicate, signer=self.keys[who])
        return json.dumps(envelope, indent=2).encode()

    def waiver(self, who: str, *, model: str, versions: list[str], requirement: str, digest: str,
               expires_at: datetime, reason: str = "accepted by the credit committee") -> bytes:
        now = datetime.now(timezone.utc)
        predicate = {"requirement": requirement, "model": model, "versions": versions, "reason": reason,
                     "approver": who, "signed_at": rfc3339(now - timedelta(days=1)), "expires_at": rfc3339(expires_at)}
        envelope = sign_waiver(model=model, digests={v: digest for v in versions}, predicate=predicate,
                               signer=self.keys[who])
        return json.dumps(envelope, indent=2).encode()


def reviewed_evidence(loaded: Any) -> dict[str, Any]:
    """What a sign-off covers of loaded evidence under the shipped matrix's default (every section but drift)."""
    return review(loaded.bundle, loaded.files, reviewed_sections({"reviews_all_but": ["drift"]}))


def tamper(envelope: bytes, **changes: Any) -> bytes:
    """The same envelope with its statement's predicate edited after signing."""
    import base64

    data = json.loads(envelope)
    statement = json.loads(base64.b64decode(data["payload"]))
    statement["predicate"].update(changes)
    data["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    return json.dumps(data).encode()


def make_trust(folder: Path) -> Trust:
    """Copy policies/ into folder and add the test people's keys to its trusted signers."""
    policy_dir = folder / "policies"
    shutil.copytree(POLICIES, policy_dir)
    signers_path = policy_dir / "gatekeeper" / "signers" / "signers.yaml"
    data = yaml.safe_load(signers_path.read_text())
    trust = Trust(policy_dir=policy_dir)
    for name, roles in PEOPLE.items():
        signer = CryptoSigner.generate_ed25519()
        trust.keys[name] = signer
        key_file = folder / "keys" / f"{name.split('@')[0]}.pem"
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_bytes(signer.private_bytes)
        trust.key_files[name] = key_file
        public = signer.public_key
        data["signers"].append({"name": name, "roles": roles, "keys": [{
            "keyid": public.keyid, "keytype": public.keytype, "scheme": public.scheme,
            "public": public.keyval["public"]}]})
    signers_path.write_text(yaml.safe_dump(data, sort_keys=False))
    # The test models' names are made up per test: the register classifies every one as
    # minimal, so the class the evidence states (never lower) decides, as a test sets it.
    register = policy_dir / "gatekeeper" / "classification" / "register.yaml"
    entries = yaml.safe_load(register.read_text())
    entries["models"].append({"model": "*", "risk_class": "minimal", "decided_by": "tests", "decided_at": "2026-11-01"})
    register.write_text(yaml.safe_dump(entries, sort_keys=False))
    return trust
