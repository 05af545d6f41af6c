"""What every producer shares: reading tables, digests, writing a block, the progress bar.

Every failure a user can cause is a ProducerError whose message names the file and what
is wrong, so the CLI prints one line and exits 2.
"""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.types.bundle import BundleFileError, bundle_path, read_bundle_yaml, validate_bundle

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".jsonl", ".ndjson")


class ProducerError(ValueError):
    """Input a producer cannot use; the message names the file and what is wrong."""


def need(module: str, extra: str) -> Any:
    """Import an optional tool library, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ProducerError(f"{module} is not installed ({exc}): pip install 'model-gatekeeper[{extra}]'") from None


def load_document(path: str | Path, kind: str = "JSON") -> Any:
    """A tool's JSON or YAML output file, parsed; unreadable or malformed is a ProducerError."""
    import json

    path = Path(path)
    try:
        text = path.read_text()
        return json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except OSError as exc:
        raise ProducerError(f"{path}: {exc.strerror or exc}") from None
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError is a ValueError
        raise ProducerError(f"{path}: not valid {kind}: {str(exc).splitlines()[0]}") from None


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def file_digest(path: str | Path) -> str:
    """sha256 of a file's bytes, named by its algorithm."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def read_table(path: str | Path, columns: list[str] | None = None, as_text: bool = False) -> Any:
    """A non-empty pandas table from CSV, TSV, Parquet or JSON Lines, holding `columns` if named.
    `as_text`: CSV and TSV cells as the text in the file (no number parsing)."""
    pd = need("pandas", "producers")
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ProducerError(f"{path}: no such file")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in (".jsonl", ".ndjson"):
            frame = pd.read_json(path, lines=True)
        else:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str if as_text else None)
    except ImportError as exc:
        raise ProducerError(f"{path}: cannot read {suffix} files here ({exc}); use CSV") from None
    except pd.errors.EmptyDataError:
        raise ProducerError(f"{path}: the table is empty") from None
    except (ValueError, OSError) as exc:
        raise ProducerError(f"{path}: cannot be read as a table: {str(exc).splitlines()[0]}") from None
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ProducerError(f"{path}: no column {', '.join(repr(c) for c in missing)} "
                                f"(columns: {', '.join(map(str, frame.columns))})")
        frame = frame[columns]
    if frame.empty or len(frame.columns) == 0:
        raise ProducerError(f"{path}: the table is empty (no rows)")
    return frame


def split_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    columns = [c.strip() for c in text.split(",") if c.strip()]
    return columns or None


def write_block(bundle: str | Path, key: str, block: Any, merge: bool = False) -> Path:
    """Set `key` in the bundle's evidence.yaml (merged into an existing mapping when asked), validated."""
    path = bundle_path(bundle)
    try:
        raw = read_bundle_yaml(path)
        if merge and isinstance(raw.get(key), dict):
            block = {**raw[key], **block}
        raw[key] = block
        validate_bundle(raw, path)
    except BundleFileError as exc:
        raise ProducerError(str(exc)) from None
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Any]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise.

    Yields advance(n): call it as work completes.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr)
    if not console.is_terminal:
        yield lambda n=1: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
