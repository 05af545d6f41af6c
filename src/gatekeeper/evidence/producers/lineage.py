"""lineage.datasets and lineage.code_commit from a DVC project (`gatekeeper evidence lineage`).

Reads DVC's documented file format directly (https://dvc.org/doc/user-guide/project-structure):
`dvc.lock` (`schema: '2.0'`, `stages.<name>.outs[]`) and `*.dvc` files (`outs[]`), each
output `{path, md5, size, hash: md5}`. No dvc library is needed: it would add ~190 MB to
read two YAML shapes. DVC records md5 (with a `.dir` suffix for a directory's manifest);
the digest is written as `md5:<value>`, never relabelled as sha256. The code commit is the
HEAD of the git repository the DVC files sit in.

A dataset is named by its path relative to the DVC project (the folder holding `.dvc/`),
whichever file or folder was read, so reading `data/loans.csv.dvc` and then the whole
project records it once. Its context (training, evaluation, ...) is always given: a
default would label evaluation data `training`.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from gatekeeper.evidence.producers.common import ProducerError, load_document, write_block
from gatekeeper.types.bundle import BundleFileError, bundle_path, read_bundle_yaml

_MD5 = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


def _load(path: Path) -> dict[str, Any]:
    data = load_document(path, "YAML")
    if not isinstance(data, dict):
        raise ProducerError(f"{path}: not a DVC file (expected a mapping)")
    return data


def _digest(out: dict[str, Any], path: Path) -> str:
    # DVC 3 writes `hash: md5`; DVC 2 wrote no `hash` key (md5 of the dos2unix'd file): both md5.
    algorithm = out.get("hash", "md5")
    value = str(out.get(algorithm) or out.get("md5") or "")
    if algorithm != "md5" or not _MD5.match(value):
        raise ProducerError(f"{path}: output '{out.get('path')}' has no md5 digest DVC would record")
    return f"md5:{value}"


def _outs(entries: Any, base: Path, path: Path, stage: str | None) -> list[dict[str, Any]]:
    datasets = []
    for out in entries or []:
        if not isinstance(out, dict) or "path" not in out:
            raise ProducerError(f"{path}: an output has no path")
        name = (base / str(out["path"])).as_posix()
        entry = {"name": name.removeprefix("./"), "digest": _digest(out, path)}
        if stage:
            entry["stage"] = stage
        datasets.append(entry)
    return datasets


def project_root(path: Path) -> Path:
    """The DVC project holding path: the nearest folder upwards with a `.dvc/` folder (else path's own folder)."""
    start = (path if path.is_dir() else path.parent).resolve()
    return next((folder for folder in (start, *start.parents) if (folder / ".dvc").is_dir()), start)


def read_dvc(path: str | Path) -> list[dict[str, Any]]:
    """[{name, digest, stage?}] for every output of a dvc.lock, a .dvc file, or a project folder;
    names are paths relative to the DVC project."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and (p.name == "dvc.lock" or p.suffix == ".dvc")
                       and ".dvc" not in p.relative_to(path).parts[:-1])
        if not files:
            raise ProducerError(f"{path}: no dvc.lock or *.dvc file in this folder")
    elif path.is_file():
        files = [path]
    else:
        raise ProducerError(f"{path}: no such file or folder")
    root = project_root(path)
    datasets: list[dict[str, Any]] = []
    for file in files:
        data = _load(file)
        base = file.resolve().parent.relative_to(root)
        if file.name == "dvc.lock":
            stages = data.get("stages")
            if not isinstance(stages, dict):
                raise ProducerError(f"{file}: not a dvc.lock (no stages)")
            found = [d for name, stage in stages.items() for d in _outs((stage or {}).get("outs"), base, file, name)]
            if not found:
                raise ProducerError(f"{file}: no stage records an output (outs); run `dvc repro` first")
        elif "outs" in data:
            found = _outs(data["outs"], base, file, None)
            if not found:
                raise ProducerError(f"{file}: records no output (outs is empty)")
        else:
            raise ProducerError(f"{file}: not a .dvc file (no outs)")
        datasets += [d for d in found if d["name"] not in {seen["name"] for seen in datasets}]
    return datasets


def git_commit(path: str | Path) -> str | None:
    """HEAD of the git repository holding path, or None outside one."""
    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    try:
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def contexts_of(names: list[str], given: list[str]) -> dict[str, str]:
    """Each dataset's context from `--context` values: NAME=CONTEXT for one dataset, a bare
    CONTEXT for every dataset not named. A dataset left without one is refused."""
    named: dict[str, str] = {}
    default = None
    for item in given:
        name, eq, context = item.rpartition("=")
        if not context.strip():
            raise ProducerError(f"--context {item!r} names no context")
        if not eq:
            if default is not None and default != context.strip():
                raise ProducerError(f"--context gives two contexts for every dataset: {default}, {context.strip()}")
            default = context.strip()
        elif name.strip().removeprefix("./") not in names:
            raise ProducerError(f"--context {item!r}: no dataset {name.strip()!r} (datasets: {', '.join(names)})")
        else:
            named[name.strip().removeprefix("./")] = context.strip()
    unnamed = [n for n in names if n not in named]
    if unnamed and default is None:
        raise ProducerError(f"no context for {', '.join(unnamed)}: give each its own with --context NAME=training "
                            "(or evaluation, ...), or --context CONTEXT for all")
    return {n: named.get(n, default or "") for n in names}


def lineage_block(path: str | Path, *, contexts: list[str], run_id: str | None = None) -> dict[str, Any]:
    found = read_dvc(path)
    context = contexts_of([d["name"] for d in found], contexts)
    datasets = [{"name": d["name"], "digest": d["digest"], "context": context[d["name"]]} for d in found]
    block: dict[str, Any] = {"datasets": datasets}
    commit = git_commit(path)
    if commit:
        block["code_commit"] = commit
    if run_id:
        block["run_id"] = run_id
    return block


def write_lineage(bundle: str | Path, block: dict[str, Any]) -> Path:
    """Merge into lineage: datasets with the same name are replaced, others kept."""
    path = bundle_path(bundle)
    try:
        existing = read_bundle_yaml(path).get("lineage") or {}
    except BundleFileError as exc:
        raise ProducerError(str(exc)) from None
    names = {d["name"] for d in block["datasets"]}
    kept = [d for d in existing.get("datasets") or [] if d.get("name") not in names]
    return write_block(bundle, "lineage", {**existing, **block, "datasets": kept + block["datasets"]})
