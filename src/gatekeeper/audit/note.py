"""C2SP signed notes, checkpoints and cosignatures, with Ed25519 (`cryptography`).

- signed-note: the text (ending in a newline), a blank line, then one line per signature,
  `— NAME base64(key ID ‖ signature)`; key ID = SHA-256(NAME ‖ "\\n" ‖ type ‖ public key)[:4].
  Keys are written as Go's golang.org/x/mod/sumdb/note writes them: verifier keys
  `NAME+hex(key ID)+base64(type ‖ public key)`, signer keys `PRIVATE+KEY+NAME+hex+base64(type ‖ seed)`,
  so torchwood, litewitness and Go's note package read ours and we read theirs.
- tlog-checkpoint: the text is `origin\\nsize\\nbase64(root)\\n`.
- tlog-cosignature/v1 (what witnesses sign, key type 0x04): the signature covers
  `cosignature/v1\\ntime T\\n` ‖ the checkpoint text, and is key ID ‖ T (8 bytes) ‖ Ed25519 signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
DASH = "\u2014"


class NoteError(ValueError):
    """A malformed key, note or checkpoint; the message says what is wrong."""


def _key_id(name: str, kind: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public).digest()[:4]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name) or not name.isprintable():
        raise NoteError(f"not a key name: {name!r} (no spaces or '+')")


@dataclass(frozen=True)
class Verifier:
    name: str
    kind: int
    key_id: bytes
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """NAME+hex8+base64(type ‖ key), type 0x01 (a log's key) or 0x04 (a witness's)."""
        parts = vkey.strip().split("+", 2)  # base64 may hold '+' too
        if len(parts) != 3:
            raise NoteError("a verifier key is NAME+KEYID+KEY")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            key_id, raw = bytes.fromhex(hex_id), base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("a verifier key's ID must be hex and its key base64") from None
        if len(key_id) != 4 or len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("not an Ed25519 verifier key (type 0x01 or 0x04, 32 bytes)")
        if _key_id(name, raw[0], raw[1:]) != key_id:
            raise NoteError("the verifier key's ID does not match its name and key")
        return cls(name, raw[0], key_id, raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([self.kind]) + self.public).decode()}"

    def _verify(self, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        return cls(name, key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @classmethod
    def parse(cls, skey: str) -> Signer:
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+NAME+KEYID+KEY")
        name, hex_id, encoded = parts[2:]
        _check_name(name)
        try:
            key_id, raw = bytes.fromhex(hex_id), base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError("a signer key's ID must be hex and its key base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("not an Ed25519 signer key")
        signer = cls(name, raw[1:])
        if signer.verifier.key_id != key_id:
            raise NoteError("the signer key's ID does not match its name and key")
        return signer

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        public = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, ED25519, _key_id(self.name, ED25519, public), public)

    def __str__(self) -> str:
        hex_id = self.verifier.key_id.hex()
        return f"PRIVATE+KEY+{self.name}+{hex_id}+{base64.b64encode(bytes([ED25519]) + self.seed).decode()}"

    def sign(self, text: str) -> str:
        """A signed note of this text, with our one signature."""
        _check_text(text)
        signature = self._private.sign(text.encode())
        return text + "\n" + _line(self.name, self.verifier.key_id + signature)


def load_signer(path: Path) -> Signer:
    """The signer key in a file (`gatekeeper keygen --log`); raises NoteError naming the file."""
    try:
        return Signer.parse(path.read_text())
    except OSError as exc:
        raise NoteError(f"log key {path}: {exc.strerror}") from None
    except NoteError as exc:
        raise NoteError(f"log key {path}: {exc}") from None


def _line(name: str, blob: bytes) -> str:
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note's text ends with one newline and has no blank line")


@dataclass(frozen=True)
class Note:
    text: str
    signatures: list[tuple[str, bytes]]  # (name, key ID ‖ signature), in order

    @classmethod
    def parse(cls, note: str) -> Note:
        text, sep, block = note.rpartition("\n\n")
        if not sep or not block.endswith("\n"):
            raise NoteError("not a signed note: no blank line before the signatures")
        text += "\n"
        signatures = []
        for line in block[:-1].split("\n"):
            parts = line.split(" ")
            if len(parts) != 3 or parts[0] != DASH:
                raise NoteError("a signature line is '— NAME SIGNATURE'")
            try:
                blob = base64.b64decode(parts[2], validate=True)
            except binascii.Error:
                raise NoteError("a signature is not base64") from None
            if len(blob) < 5:
                raise NoteError("a signature is too short")
            signatures.append((parts[1], blob))
        if not signatures:
            raise NoteError("the note has no signatures")
        return cls(text, signatures)

    def signed_by(self, verifier: Verifier) -> bool:
        """A log (0x01) key's valid signature over the text."""
        return any(name == verifier.name and blob[:4] == verifier.key_id and verifier._verify(blob[4:], self.text.encode())
                   for name, blob in self.signatures)

    def cosigned_by(self, verifier: Verifier) -> int | None:
        """A witness's (0x04) valid cosignature: its timestamp, else None."""
        for name, blob in self.signatures:
            if name == verifier.name and blob[:4] == verifier.key_id and len(blob) == 4 + 8 + 64:
                (timestamp,) = struct.unpack(">Q", blob[4:12])
                if verifier._verify(blob[12:], cosigned_message(self.text, timestamp)):
                    return timestamp
        return None

    def with_lines(self, lines: list[str]) -> str:
        """The note with extra signature lines (cosignatures), each once."""
        own = [_line(name, blob) for name, blob in self.signatures]
        return self.text + "\n" + "".join(dict.fromkeys(own + lines))


def cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise NoteError("a checkpoint is origin, size and root hash, one per line")
        origin, size, root = lines[:3]
        if not origin or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError("a checkpoint's first lines are its origin and its size in decimal")
        try:
            raw = base64.b64decode(root, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            raise NoteError("a checkpoint's third line is a base64 SHA-256 root hash")
        return cls(origin, int(size), raw)
