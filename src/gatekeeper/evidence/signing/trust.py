"""Who is trusted: the public keys of the signers document (`signers.yaml`).

The compliance team owns that document; OPA loads it as `data.gatekeeper.signers`. Each
signer has a name, roles and keys. Python needs only the keys, to verify signatures;
the policy maps a verified key id to its signer and checks that signer's roles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from securesystemslib.signer import Key, SSlibKey

from gatekeeper.evidence.signing.errors import SigningError


class TrustStore:
    """Trusted public keys by keyid, read from the signers document."""

    def __init__(self, keys: dict[str, Key]) -> None:
        self.keys = keys

    @classmethod
    def from_data(cls, data: dict[str, Any], origin: str = "data.gatekeeper.signers") -> TrustStore:
        keys: dict[str, Key] = {}
        for signer in data.get("signers") or []:
            for entry in signer.get("keys") or []:
                try:
                    keys[entry["keyid"]] = SSlibKey.from_dict(
                        entry["keyid"],
                        {"keytype": entry["keytype"], "scheme": entry["scheme"], "keyval": {"public": entry["public"]}},
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise SigningError(f"{origin}: bad key entry for {signer.get('name')}: {exc}") from None
        return cls(keys)

    @classmethod
    def from_file(cls, path: str | Path) -> TrustStore:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SigningError(f"trusted signers {path}: {exc}") from None
        return cls.from_data(data, str(path))

