"""Read manifests for the CLI: files, folders (recursive), multi-document YAML, JSON,
`List` objects and stdin. Bad input is reported one line per file; other files go on.

Every object keeps where it came from (file and 1-based line of its document, or of its
item inside a `List`), so reports can point code-scanning UIs at the manifest.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gatekeeper.types.decision import SourceLocation

if TYPE_CHECKING:
    from gatekeeper.pipeline.gate import Manifest

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MANIFEST_SUFFIXES = {".yaml", ".yml", ".json"}
MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_ALIASES = 100  # a YAML bomb expands few anchors into huge trees; real manifests use a handful
STDIN = "-"
STDIN_NAME = "<stdin>"


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def manifest_inputs(paths: list[str]) -> tuple[list[str], list[str]]:
    """The files to read, in order ('-' for stdin), and one error line per unusable path."""
    files: list[str] = []
    errors: list[str] = []
    for raw in paths:
        if raw == STDIN:
            files.append(STDIN)
            continue
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file())
            if not found:
                errors.append(f"{path}: folder holds no .yaml, .yml or .json files")
            files.extend(str(p) for p in found)
        elif path.exists():
            files.append(str(path))
        else:
            errors.append(f"{path}: no such file or folder")
    return files, errors


def load_manifests(
    paths: list[str], *, stdin_text: str | None = None, on_file: Callable[[str], None] | None = None,
) -> LoadResult:
    """Every object in PATHS; `on_file` is called after each file (progress display)."""
    files, errors = manifest_inputs(paths)
    result = LoadResult(errors=errors)
    for file in files:
        if file == STDIN:
            text = stdin_text if stdin_text is not None else sys.stdin.read()
            _parse_into(result, text, STDIN_NAME)
        else:
            _read_into(result, Path(file))
        if on_file is not None:
            on_file(file)
    return result


def _read_into(result: LoadResult, path: Path) -> None:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            result.errors.append(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
            return
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        result.errors.append(f"{path}: not UTF-8 text (not a YAML or JSON manifest)")
        return
    except OSError as exc:
        result.errors.append(f"{path}: {exc.strerror}")
        return
    _parse_into(result, text, str(path), is_json=path.suffix.lower() == ".json")


def _parse_into(result: LoadResult, text: str, name: str, *, is_json: bool = False) -> None:
    from gatekeeper.pipeline.gate import Manifest  # imported on first use: `check` reads while OPA starts
    if len(text) > MAX_FILE_BYTES:
        result.errors.append(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
        return
    if "\x00" in text:
        result.errors.append(f"{name}: binary data (not a YAML or JSON manifest)")
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
    except RecursionError:
        result.errors.append(f"{name}: nested too deeply to be a manifest")
        return
    for document, line, item_lines in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            result.errors.append(f"{name}:{line}: not a Kubernetes object (a {type(document).__name__})")
            continue
        if not _is_list(document):
            result.manifests.append(Manifest(object=document, source=SourceLocation(file=name, line=line)))
            continue
        for index, item in enumerate(document["items"]):
            item_line = item_lines[index] if index < len(item_lines) else line
            if not isinstance(item, dict):
                result.errors.append(f"{name}:{item_line}: a List item is not a Kubernetes object")
                continue
            for obj in _expand_lists(item):
                if not isinstance(obj, dict):
                    result.errors.append(f"{name}:{item_line}: a List item is not a Kubernetes object")
                    continue
                result.manifests.append(Manifest(object=obj, source=SourceLocation(file=name, line=item_line)))


class _TooManyAliases(ValueError):
    pass


def _yaml_documents(text: str) -> Iterator[tuple[Any, int, list[int]]]:
    """(document, line of the document, lines of its `items` when it is a List)."""
    if "&" in text and "*" in text:
        aliases = sum(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=_Loader))
        if aliases > MAX_ALIASES:
            raise _TooManyAliases(f"{aliases} YAML aliases (over {MAX_ALIASES}): refusing a possible YAML bomb")
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            yield loader.construct_document(node), node.start_mark.line + 1, _item_lines(node)
    finally:
        loader.dispose()


def _item_lines(node: yaml.Node) -> list[int]:
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "items" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _json_documents(text: str) -> Iterator[tuple[Any, int, list[int]]]:
    yield json.loads(text), 1, []


def _is_list(document: dict[str, Any]) -> bool:
    return str(document.get("kind", "")).endswith("List") and isinstance(document.get("items"), list)


def _expand_lists(document: dict[str, Any]) -> list[Any]:
    if _is_list(document):
        return [item for entry in document["items"] for item in (_expand_lists(entry) if isinstance(entry, dict) else [entry])]
    return [document]
