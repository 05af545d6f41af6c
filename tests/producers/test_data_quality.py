"""`gatekeeper evidence data-quality`: a Great Expectations result decides data_quality.*."""

from __future__ import annotations

import json

import pytest

from ..conftest import run_cli
from .conftest import one_line
from .data import ge_result, loans, write_json


def test_a_passing_suite_is_admitted(bundle, decide, tmp_path):
    frame = loans()
    frame.to_csv(tmp_path / "loans.csv", index=False)
    result_file = write_json(tmp_path / "validation.json", ge_result(frame))
    done = run_cli("evidence", "data-quality", "--great-expectations", str(result_file),
                   "--data", str(tmp_path / "loans.csv"), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    block = bundle.raw["data_quality"]
    assert block["suite"] == "loans-training" and block["success"] is True
    assert block["success_percent"] == 100.0 and block["evaluated_expectations"] == 4 and block["failed"] == []
    assert block["dataset_digest"].startswith("sha256:") and block["evaluated_at"].endswith("Z")
    assert decide(bundle) == (True, {})


def test_failed_expectations_are_named_and_denied(bundle, decide, tmp_path):
    frame = loans()
    frame.loc[:4, "income"] = None
    # Ages run to 79: a maximum of 65 fails; missing incomes fail the not-null check.
    result_file = write_json(tmp_path / "validation.json", ge_result(frame, age_max=65))
    done = run_cli("evidence", "data-quality", "--great-expectations", str(result_file), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    assert bundle.raw["data_quality"]["success_percent"] == 50.0
    allowed, violations = decide(bundle)
    assert not allowed and set(violations) == {"data_quality.success_percent"}
    assert violations["data_quality.success_percent"] == (
        "the expectation suite 'loans-training' passed 50% of 4 expectations, below 99%; failed: "
        "expect_column_values_to_not_be_null(income), expect_column_values_to_be_between(age)")


def test_a_bundle_without_a_result_is_denied(bundle, decide):
    bundle.drop("data_quality")
    allowed, violations = decide(bundle)
    assert not allowed and set(violations) == {"data_quality.missing"}


@pytest.mark.parametrize("content, words", [
    ({"metrics": [], "tests": []}, "not a Great Expectations validation or checkpoint result"),
    ([1, 2], "not a Great Expectations validation or checkpoint result"),
    ("{not json", "not valid JSON"),
])
def test_a_file_that_is_not_a_validation_result_exits_2(tmp_path, content, words):
    path = tmp_path / "result.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    line = one_line(run_cli("evidence", "data-quality", "--great-expectations", str(path)))
    assert line.startswith(f"gatekeeper: {path}: ") and words in line
