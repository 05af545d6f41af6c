"""What every evidence source gives the gate, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from gatekeeper.types.decision import ModelRef
from gatekeeper.types.bundle import EvidenceBundle

EvidenceErrorKind = Literal["missing", "unreadable", "unavailable", "mismatch"]


class EvidenceError(Exception):
    """Evidence could not be had for one model version; the policy turns it into `evidence.<kind>`."""

    def __init__(self, kind: EvidenceErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class SourceUnavailable(EvidenceError):
    """The source itself is down or timed out (every model from it is affected)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__("unavailable", f"evidence source {source} is unavailable: {message}")
        self.source = source


@dataclass(frozen=True)
class LoadedEvidence:
    """A bundle plus the files it refers to (model card, reports, signed statements)."""

    bundle: EvidenceBundle
    files: dict[str, bytes | None]  # path as written in the bundle -> content, None if absent
    location: str  # where it came from, for messages ("examples/evidence/m/3/evidence.yaml")
    revision: str = ""  # source-side version marker (file mtime, registry timestamp)


class EvidenceSource(Protocol):
    name: str

    async def resolve(self, model: ModelRef) -> ModelRef:
        """Return the reference with `version` set (an alias resolved)."""

    async def load(self, model: ModelRef) -> LoadedEvidence:
        """The evidence of one resolved model version, or EvidenceError."""

    async def close(self) -> None:
        """Release what the source holds open (connections); whoever made the source closes it."""
