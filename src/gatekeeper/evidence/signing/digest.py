"""The artifact digest of a local model: the model-signing (OpenSSF) manifest digest.

`artifact.digest` binds sign-offs and waivers to the model's content. It is computed
the way a model-signing v1.0 manifest is (`model_signing.hashing.hash(path)`, "files"
serialization with SHA-256), without the library and its Sigstore dependencies:

1. every regular file under the folder is hashed with SHA-256, read in full;
2. files are identified by their POSIX path relative to the folder and ordered by path
   components (so `a/b` sorts before `a-b`, as `pathlib.PurePosixPath` orders them);
3. the digest is SHA-256 over the concatenated raw 32-byte file digests in that order,
   written `sha256:<hex>`.

Like the library's defaults, top-level `.git`, `.gitattributes`, `.github` and `.gitignore`
are not part of the model, and a symbolic link is an error.
A single file is a model of one file (digest over its one file digest).
tests/test_evidence_cli.py holds values the library itself produced, to catch any drift.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IGNORED_TOP_LEVEL = frozenset({".git", ".gitattributes", ".github", ".gitignore"})
_CHUNK = 1024 * 1024


class DigestError(ValueError):
    """The path cannot be hashed as a model (missing, empty, a symlink inside)."""


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # POSIX, relative to the model root ("." for a single-file model)
    sha256: str  # hex


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest(path: str | Path) -> list[ManifestEntry]:
    """The per-file entries of a model folder (or file), in manifest order."""
    root = Path(path)
    if root.is_symlink():
        raise DigestError(f"{root} is a symbolic link; point at the model itself")
    if root.is_file():
        return [ManifestEntry(".", file_sha256(root))]
    if not root.is_dir():
        raise DigestError(f"{root} does not exist")
    entries: list[tuple[tuple[str, ...], ManifestEntry]] = []
    for directory, subdirs, files in os.walk(root):
        here = Path(directory)
        relative_dir = here.relative_to(root)
        if relative_dir == Path("."):
            subdirs[:] = [d for d in subdirs if d not in IGNORED_TOP_LEVEL]
        for name in subdirs:
            if (here / name).is_symlink():
                raise DigestError(f"{here / name} is a symbolic link; models with links are not hashed")
        for name in files:
            target = here / name
            if relative_dir == Path(".") and name in IGNORED_TOP_LEVEL:
                continue
            if target.is_symlink():
                raise DigestError(f"{target} is a symbolic link; models with links are not hashed")
            if not target.is_file():
                continue  # sockets, fifos: not model content
            rel = PurePosixPath(*relative_dir.parts, name)
            entries.append((rel.parts, ManifestEntry(str(rel), file_sha256(target))))
    if not entries:
        raise DigestError(f"{root} contains no regular files")
    return [entry for _, entry in sorted(entries, key=lambda item: item[0])]


def manifest_digest(entries: list[ManifestEntry]) -> str:
    root = hashlib.sha256()
    for entry in entries:
        root.update(bytes.fromhex(entry.sha256))
    return "sha256:" + root.hexdigest()


def model_digest(path: str | Path) -> str:
    """`sha256:<hex>` of a model folder or file, as a model-signing manifest computes it."""
    return manifest_digest(manifest(path))
