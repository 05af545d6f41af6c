"""What every evidence source gives the gate, and how it fails.

A source subclasses `EvidenceSource`: `name`, `resolve` and `load` are its own; the tuning
members (`alias_ttl`, `max_concurrency`, `revision_hint`) have defaults that fit a local
source, and a remote one (a registry) overrides them. The lookup reads them directly.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from gatekeeper.types.bundle import EvidenceBundle
from gatekeeper.types.decision import ModelRef
from gatekeeper.types.policy_input import EvidenceErrorKind

__all__ = ["EvidenceError", "EvidenceErrorKind", "EvidenceSource", "LoadedEvidence", "SourceUnavailable"]


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


class EvidenceSource(abc.ABC):
    """Where the evidence of a model version comes from (a folder, a registry)."""

    name: str  # names the source in messages and metrics ("files", "mlflow")

    # Seconds an alias resolution is reused; the lookup's TTL caps it. A source whose
    # aliases move often (a registry) sets 0: resolved on every lookup, concurrent lookups
    # still sharing one request.
    alias_ttl: float = float("inf")
    # At most this many calls at once (the lookup queues the rest); None: no limit.
    max_concurrency: int | None = None

    @abc.abstractmethod
    async def resolve(self, model: ModelRef) -> ModelRef:
        """Return the reference with `version` set (an alias resolved)."""

    @abc.abstractmethod
    async def load(self, model: ModelRef) -> LoadedEvidence:
        """The evidence of one resolved model version, or EvidenceError."""

    def revision_hint(self, model: ModelRef) -> str | None:
        """The newest revision of this version the source has seen since it was loaded (a
        registry's alias lookup returns it), or None. A cached load of another revision is
        then read again at once, not at the end of its TTL."""
        return None

    async def versions(self) -> list[tuple[str, str]] | None:
        """Every (model, version) the source holds evidence for, or None when it cannot say
        cheaply (a registry: the console then lists what runs and what was decided)."""
        return None

    async def close(self) -> None:
        """Release what the source holds open (connections); whoever made the source closes it."""
        return None
