"""Read manifests for the CLI: files, folders (recursive), multi-document YAML, JSON,
`List` objects and stdin. Bad input is reported one line per file; other files go on."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .gate import Manifest
from .models import SourceLocation

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MANIFEST_SUFFIXES = {".yaml", ".yml", ".json"}
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 100  # a YAML bomb expands few anchors into huge trees; real manifests use a handful


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_manifests(paths: list[str], *, stdin_text: str | None = None) -> LoadResult:
    result = LoadResult()
    for raw in paths:
        if raw == "-":
            text = stdin_text if stdin_text is not None else sys.stdin.read()
            _parse_into(result, text, "<stdin>")
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            if not files:
                result.errors.append(f"{path}: folder holds no .yaml, .yml or .json files")
            for file in files:
                _read_into(result, file)
        elif path.exists():
            _read_into(result, path)
        else:
            result.errors.append(f"{path}: no such file or folder")
    return result


def _read_into(result: LoadResult, path: Path) -> None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            result.errors.append(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
            return
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        result.errors.append(f"{path}: not UTF-8 text")
        return
    except OSError as exc:
        result.errors.append(f"{path}: {exc.strerror}")
        return
    _parse_into(result, text, str(path), is_json=path.suffix == ".json")


def _parse_into(result: LoadResult, text: str, name: str, *, is_json: bool = False) -> None:
    if len(text) > MAX_FILE_BYTES:
        result.errors.append(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
        return
    try:
        documents = list(_json_documents(text) if is_json else _yaml_documents(text))
    except json.JSONDecodeError as exc:
        result.errors.append(f"{name}:{exc.lineno}: not valid JSON: {exc.msg}")
        return
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        result.errors.append(f"{where}: not valid YAML: {problem}")
        return
    except _TooManyAliases as exc:
        result.errors.append(f"{name}: {exc}")
        return
    for document, line in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            result.errors.append(f"{name}:{line}: not a Kubernetes object (a {type(document).__name__})")
            continue
        for obj in _expand_lists(document):
            if not isinstance(obj, dict):
                result.errors.append(f"{name}:{line}: a List item is not a Kubernetes object")
                continue
            result.manifests.append(Manifest(object=obj, source=SourceLocation(file=name, line=line)))


class _TooManyAliases(ValueError):
    pass


def _yaml_documents(text: str) -> Iterator[tuple[Any, int]]:
    if "&" in text and "*" in text:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_Loader))
        if aliases > MAX_ALIASES:
            raise _TooManyAliases(f"{aliases} YAML aliases (over {MAX_ALIASES}): refusing a possible YAML bomb")
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield loader.construct_document(node), node.start_mark.line + 1
    finally:
        loader.dispose()


def _json_documents(text: str) -> Iterator[tuple[Any, int]]:
    yield json.loads(text), 1


def _expand_lists(document: dict[str, Any]) -> list[Any]:
    kind = str(document.get("kind", ""))
    if kind.endswith("List") and isinstance(document.get("items"), list):
        return [item for entry in document["items"] for item in (_expand_lists(entry) if isinstance(entry, dict) else [entry])]
    return [document]
