"""`gatekeeper evidence lineage`: what DVC recorded (md5 digests) and the git commit decide lineage.*."""

from __future__ import annotations

import hashlib

import yaml

from ..conftest import run_cli
from .conftest import one_line
from .data import dvc_project, run


def md5_of(path) -> str:
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - DVC's own algorithm


def test_dvc_outputs_and_the_git_commit_are_admitted(bundle, decide, tmp_path):
    project = dvc_project(tmp_path / "project")
    bundle.drop("lineage")
    done = run_cli("evidence", "lineage", "--dvc", str(project), "--context", "training", "--run-id", "run-42",
                   "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    lineage = bundle.raw["lineage"]
    assert lineage["code_commit"] == run("git", "rev-parse", "HEAD", cwd=project).strip()
    assert lineage["run_id"] == "run-42"
    # `dvc add` and `dvc repro` recorded the md5 of each file: the digests say so, never sha256.
    assert lineage["datasets"] == [
        {"name": "data/loans.csv", "digest": md5_of(project / "data" / "loans.csv"), "context": "training"},
        {"name": "data/train.csv", "digest": md5_of(project / "data" / "train.csv"), "context": "training"},
    ]
    assert decide(bundle) == (True, {})


def test_a_project_outside_git_has_no_code_commit_and_is_denied(bundle, decide, tmp_path):
    project = dvc_project(tmp_path / "project", git=False)
    bundle.drop("lineage")
    done = run_cli("evidence", "lineage", "--dvc", str(project / "dvc.lock"), "--context", "training",
                   "--run-id", "run-42", "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    assert "code_commit" not in bundle.raw["lineage"]
    allowed, violations = decide(bundle)
    assert not allowed and set(violations) == {"lineage.code_commit"}


def test_a_dvc_lock_without_outputs_exits_2(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(yaml.safe_dump({"schema": "2.0", "stages": {"train": {"cmd": "python train.py", "deps": [
        {"path": "data.csv", "hash": "md5", "md5": "0" * 32, "size": 1}]}}}))
    line = one_line(run_cli("evidence", "lineage", "--dvc", str(lock), "--context", "training"))
    assert line == f"gatekeeper: {lock}: no stage records an output (outs); run `dvc repro` first"


def test_a_file_that_is_not_dvc_exits_2(tmp_path):
    (tmp_path / "data.dvc").write_text("hello: world\n")
    line = one_line(run_cli("evidence", "lineage", "--dvc", str(tmp_path / "data.dvc"), "--context", "training"))
    assert line == f"gatekeeper: {tmp_path / 'data.dvc'}: not a .dvc file (no outs)"


def test_a_dataset_read_twice_is_recorded_once_by_its_project_path(bundle, tmp_path):
    project = dvc_project(tmp_path / "project")
    bundle.drop("lineage")
    first = run_cli("evidence", "lineage", "--dvc", str(project / "data" / "loans.csv.dvc"),
                    "--context", "data/loans.csv=source", "--bundle", str(bundle.folder))
    assert first.code == 0, first.stderr
    assert [d["name"] for d in bundle.raw["lineage"]["datasets"]] == ["data/loans.csv"]
    second = run_cli("evidence", "lineage", "--dvc", str(project), "--context", "data/train.csv=training",
                     "--context", "data/loans.csv=source", "--bundle", str(bundle.folder))
    assert second.code == 0, second.stderr
    assert bundle.raw["lineage"]["datasets"] == [
        {"name": "data/loans.csv", "digest": md5_of(project / "data" / "loans.csv"), "context": "source"},
        {"name": "data/train.csv", "digest": md5_of(project / "data" / "train.csv"), "context": "training"},
    ]


def test_every_dataset_needs_its_context(tmp_path):
    project = dvc_project(tmp_path / "project", git=False)
    line = one_line(run_cli("evidence", "lineage", "--dvc", str(project)))
    assert line == ("gatekeeper: no context for data/loans.csv, data/train.csv: give each its own with "
                    "--context NAME=training (or evaluation, ...), or --context CONTEXT for all")
    line = one_line(run_cli("evidence", "lineage", "--dvc", str(project), "--context", "data/holdout.csv=evaluation",
                            "--context", "training"))
    assert line == ("gatekeeper: --context 'data/holdout.csv=evaluation': no dataset 'data/holdout.csv' "
                    "(datasets: data/loans.csv, data/train.csv)")
