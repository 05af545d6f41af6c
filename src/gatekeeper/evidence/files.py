"""The file evidence source: `<root>/<model>/<version>/evidence.yaml` (README "Evidence bundle").

Aliases (`models:/name@champion`) resolve through `<root>/<model>/aliases.yaml`, a map of
alias to version, the way a registry's alias table does. Signed statements in the bundle's
`signoffs/` and `waivers/` folders count without being listed, as in the MLflow source:
a sign-off written there by `gatekeeper signoff create --out` needs no hand edit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePosixPath

import yaml
from pydantic import ValidationError

from gatekeeper.types.decision import ModelRef
from gatekeeper.types.names import model_ref_problem
from gatekeeper.types.bundle import EvidenceBundle, describe_validation_error
from gatekeeper.types.strict_text import DuplicateKeyError, load_yaml
from gatekeeper.evidence.source import EvidenceError, EvidenceSource, LoadedEvidence


class EvidenceRootError(ValueError):
    """The evidence folder itself is missing: a configuration error, not a model's problem."""


class FileEvidenceSource(EvidenceSource):
    name = "files"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise EvidenceRootError(f"evidence folder {self.root} does not exist or is not a folder")
        self._real_root = self.root.resolve()

    def _inside(self, model: ModelRef, *parts: str) -> Path:
        """`<root>/<parts>` when every name is plain and the path, symlinks resolved, stays
        inside the evidence folder; otherwise the reference is refused (nothing is read)."""
        problem = model_ref_problem(model.name, model.version, model.alias)
        if problem:
            raise EvidenceError("missing", f"{model.ref}: {problem}; no evidence is read for it")
        path = self.root.joinpath(*parts)
        for candidate in (path.parent, path):
            if not candidate.resolve().is_relative_to(self._real_root):
                raise EvidenceError("missing", f"{model.ref}: {self._shown(candidate)} leads outside the evidence folder; not read")
        return path

    def _shown(self, path: Path) -> str:
        """A path as messages show it: relative to the evidence folder. Denials reach the
        people deploying, who need to know which file, not where the server keeps it."""
        return str(path.relative_to(self.root))

    async def resolve(self, model: ModelRef) -> ModelRef:
        if model.version is not None:
            return model
        return await asyncio.to_thread(self._resolve_alias, model)

    async def load(self, model: ModelRef) -> LoadedEvidence:
        return await asyncio.to_thread(self._load, model)

    async def versions(self) -> list[tuple[str, str]]:
        return await asyncio.to_thread(self._versions)

    def _versions(self) -> list[tuple[str, str]]:
        return sorted((bundle.parent.parent.name, bundle.parent.name) for bundle in self.root.glob("*/*/evidence.yaml"))

    async def close(self) -> None:
        """Nothing to release: every load opens and closes its own files."""

    def _resolve_alias(self, model: ModelRef) -> ModelRef:
        path = self._inside(model, model.name, "aliases.yaml")
        try:
            aliases = load_yaml(path.read_text()) or {}
        except FileNotFoundError:
            raise EvidenceError("missing", f"no alias '{model.alias}' for model '{model.name}' ({self._shown(path)} not found)") from None
        except OSError as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: {exc.strerror}") from None
        except (yaml.YAMLError, DuplicateKeyError) as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: {_first_line(exc)}") from None
        version = aliases.get(model.alias) if isinstance(aliases, dict) else None
        if version is None:
            raise EvidenceError("missing", f"{self._shown(path)}: model '{model.name}' has no alias '{model.alias}'")
        return model.model_copy(update={"version": str(version)})

    def _load(self, model: ModelRef) -> LoadedEvidence:
        path = self._inside(model, model.name, str(model.version), "evidence.yaml")
        folder = path.parent
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise EvidenceError(
                "missing", f"no evidence for {model.name} version {model.version} ({self._shown(path)} not found)"
            ) from None
        except OSError as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: {exc.strerror}") from None
        try:
            raw = load_yaml(text)
        except DuplicateKeyError as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: {exc}") from None
        except yaml.YAMLError as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: not valid YAML: {_first_line(exc)}") from None
        if not isinstance(raw, dict):
            raise EvidenceError("unreadable", f"{self._shown(path)}: expected an EvidenceBundle mapping")
        add_statement_files(raw, folder)
        try:
            bundle = EvidenceBundle.model_validate(raw)
        except ValidationError as exc:
            raise EvidenceError("unreadable", f"{self._shown(path)}: {describe_validation_error(exc)}") from None
        if bundle.model != model.name or bundle.version != model.version:
            raise EvidenceError(
                "mismatch",
                f"{self._shown(path)} describes {bundle.model} version {bundle.version}, not {model.name} version {model.version}",
            )
        files = {rel: _read_inside(folder, rel) for rel in referenced_files(bundle)}
        return LoadedEvidence(bundle=bundle, files=files, location=str(path), revision=str(path.stat().st_mtime_ns))


def add_statement_files(raw: dict, folder: Path) -> None:
    """List the `*.json` files of the bundle's signoffs/ and waivers/ folders that the bundle does not."""
    for key in ("signoffs", "waivers"):
        listed = raw.get(key)
        if listed is not None and not isinstance(listed, list):
            continue  # the schema reports it
        known = {PurePosixPath(p).as_posix() for p in listed or [] if isinstance(p, str)}
        found = sorted(f"{key}/{f.name}" for f in (folder / key).glob("*.json") if f.is_file())
        added = [rel for rel in found if rel not in known]
        if added:
            raw[key] = [*(listed or []), *added]


def referenced_files(bundle: EvidenceBundle) -> list[str]:
    """Paths inside the bundle folder that the policy's facts depend on."""
    paths = [*bundle.signoffs, *bundle.waivers]
    if bundle.model_card and bundle.model_card.path:
        paths.append(bundle.model_card.path)
    if bundle.explainability and bundle.explainability.report and "://" not in bundle.explainability.report:
        paths.append(bundle.explainability.report)
    return paths


def _read_inside(folder: Path, rel: str) -> bytes | None:
    target = (folder / rel).resolve()
    # A bundle may only refer to its own folder: evidence must travel with its version.
    if not target.is_relative_to(folder.resolve()):
        return None
    try:
        return target.read_bytes()
    except OSError:
        return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
