"""Small data the producer tests generate and run the real tools on (no downloads, no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

TOOL_ENV = {"DVC_NO_ANALYTICS": "1", "DO_NOT_TRACK": "1", "GIT_AUTHOR_NAME": "Data Scientist",
            "GIT_AUTHOR_EMAIL": "ds@example.com", "GIT_COMMITTER_NAME": "Data Scientist",
            "GIT_COMMITTER_EMAIL": "ds@example.com"}


def loans(rows: int = 400, seed: int = 0, shift: tuple[str, ...] = ()) -> pd.DataFrame:
    """Numeric loan features; columns named in shift move by three standard deviations."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "income": rng.normal(50_000, 12_000, rows),
        "debt_ratio": rng.uniform(0, 1, rows),
        "bureau_score": rng.normal(650, 60, rows),
        "age": rng.integers(18, 80, rows).astype(float),
    })
    for column in shift:
        frame[column] = frame[column] + 3 * frame[column].std()
    return frame


def labelled(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """Loans whose default label depends on bureau_score (strongly) and debt_ratio (weakly)."""
    frame = loans(rows, seed)
    frame["default"] = ((700 - frame["bureau_score"]) / 60 + frame["debt_ratio"] > 1.0).astype(int)
    return frame


def ge_result(frame: pd.DataFrame, *, age_max: float = 120, income_min: float = 0) -> dict:
    """A real Great Expectations validation result of four expectations over frame."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (context.data_sources.add_pandas("loans").add_dataframe_asset("frame")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    suite = gx.ExpectationSuite("loans-training")
    suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="income"))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="income", min_value=income_min))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column="age", min_value=18, max_value=age_max))
    suite.add_expectation(gx.expectations.ExpectColumnToExist(column="bureau_score"))
    return batch.validate(suite).to_json_dict()


def run(*args: str, cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **TOOL_ENV}, timeout=300)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"
    return done.stdout


def dvc(*args: str, cwd: Path) -> str:
    """The real dvc CLI of this environment."""
    return run(sys.executable, "-m", "dvc", *args, cwd=cwd)


def dvc_project(folder: Path, git: bool = True) -> Path:
    """A DVC project: data/loans.csv tracked with `dvc add`, and a `prepare` stage run by `dvc repro`."""
    folder.mkdir(parents=True)
    if git:
        run("git", "init", "-q", cwd=folder)
    dvc("init", "-q", *([] if git else ["--no-scm"]), cwd=folder)
    (folder / "data").mkdir()
    loans(50).to_csv(folder / "data" / "loans.csv", index=False)
    dvc("add", "-q", "data/loans.csv", cwd=folder)
    dvc("stage", "add", "-q", "-n", "prepare", "-d", "data/loans.csv", "-o", "data/train.csv",
        "head -n 21 data/loans.csv > data/train.csv", cwd=folder)
    dvc("repro", "-q", cwd=folder)
    if git:
        run("git", "add", "-A", cwd=folder)
        run("git", "commit", "-q", "-m", "data", cwd=folder)
    return folder


def write_json(path: Path, content: object) -> Path:
    path.write_text(json.dumps(content))
    return path
