"""`gatekeeper evidence drift`: Evidently's data-drift result decides drift.*."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ..conftest import run_cli
from .conftest import one_line
from .data import loans


def produce(bundle, *args: str):
    done = run_cli("evidence", "drift", *args, "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    return bundle.raw["drift"]


def test_identical_tables_have_no_drift_and_are_admitted(bundle, decide, tmp_path):
    loans().to_csv(tmp_path / "reference.csv", index=False)
    loans().to_parquet(tmp_path / "current.parquet")
    block = produce(bundle, "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.parquet"))
    assert block["drift_share"] == pytest.approx(0) and block["drifted_columns"] == []
    assert block["dataset_drift"] is False and block["columns"] == 4 and block["tool"] == "evidently"
    assert block["reference_digest"].startswith("sha256:") and block["current_digest"].startswith("sha256:")
    assert decide(bundle) == (True, {})


def test_shifted_tables_are_denied_naming_the_drifted_columns(bundle, decide, tmp_path):
    loans(seed=1).to_csv(tmp_path / "reference.csv", index=False)
    loans(seed=2, shift=("income", "bureau_score", "age")).to_csv(tmp_path / "current.csv", index=False)
    block = produce(bundle, "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv"))
    assert block["drift_share"] == pytest.approx(0.75) and block["dataset_drift"] is True
    assert sorted(block["drifted_columns"]) == ["age", "bureau_score", "income"]
    allowed, violations = decide(bundle)
    assert not allowed and set(violations) == {"drift.drift_share"}
    message = violations["drift.drift_share"]
    assert message.startswith("drift share 0.75 is above 0.3: drifted columns ") and message.endswith(" (3 of 4)")
    assert all(column in message for column in ("income", "bureau_score", "age"))


def test_columns_limit_the_comparison(bundle, tmp_path):
    loans(seed=1).to_csv(tmp_path / "reference.csv", index=False)
    loans(seed=2, shift=("income",)).to_csv(tmp_path / "current.csv", index=False)
    block = produce(bundle, "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv"),
                    "--columns", "debt_ratio,age")
    assert block["columns"] == 2 and block["drifted_columns"] == [] and block["drift_share"] == 0


def test_without_columns_the_label_named_and_free_text_are_left_out(bundle, tmp_path):
    reference, current = loans(seed=1), loans(seed=2)
    reference["default"], current["default"] = 0, 1  # the label: a drift of the outcome, not of the inputs
    reference["note"] = [f"called on day {i}" for i in range(len(reference))]
    current["note"] = [f"wrote on day {i}" for i in range(len(current))]
    reference.to_csv(tmp_path / "reference.csv", index=False)
    current.to_csv(tmp_path / "current.csv", index=False)
    done = run_cli("evidence", "drift", "--reference", str(tmp_path / "reference.csv"), "--current",
                   str(tmp_path / "current.csv"), "--exclude", "default", "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    assert "gatekeeper: note: left out free-text columns note (name them in --columns to compare them)" in done.stderr
    block = bundle.raw["drift"]
    assert block["columns"] == 4 and block["drifted_columns"] == []
    line = one_line(run_cli("evidence", "drift", "--reference", str(tmp_path / "reference.csv"), "--current",
                            str(tmp_path / "current.csv"), "--exclude", "label"))
    assert line == f"gatekeeper: {tmp_path / 'reference.csv'}: no column 'label' to exclude"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Evidently's own (numpy.core, litestar)
def test_a_saved_evidently_report_gives_the_same_result(bundle, tmp_path):
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference, current = loans(seed=1), loans(seed=2, shift=("income", "age"))
    Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference).save_json(
        str(tmp_path / "report.json"))
    block = produce(bundle, "--report", str(tmp_path / "report.json"))
    assert block["drift_share"] == pytest.approx(0.5) and sorted(block["drifted_columns"]) == ["age", "income"]


def test_a_report_of_another_shape_exits_2(tmp_path):
    from evidently import Report
    from evidently.presets import DataSummaryPreset

    Report([DataSummaryPreset()]).run(current_data=loans(), reference_data=loans()).save_json(
        str(tmp_path / "summary.json"))
    line = one_line(run_cli("evidence", "drift", "--report", str(tmp_path / "summary.json")))
    assert line.startswith(f"gatekeeper: {tmp_path / 'summary.json'}: ") and "without a data-drift result" in line


def test_a_table_missing_a_named_column_exits_2(tmp_path):
    loans().to_csv(tmp_path / "reference.csv", index=False)
    loans().drop(columns=["age"]).to_csv(tmp_path / "current.csv", index=False)
    line = one_line(run_cli("evidence", "drift", "--reference", str(tmp_path / "reference.csv"),
                            "--current", str(tmp_path / "current.csv"), "--columns", "income,age"))
    assert line.startswith(f"gatekeeper: {tmp_path / 'current.csv'}: no column 'age'")


@pytest.mark.parametrize("content", ["", "income,age\n"])
def test_an_empty_table_exits_2(tmp_path, content):
    loans().to_csv(tmp_path / "reference.csv", index=False)
    (tmp_path / "current.csv").write_text(content)
    line = one_line(run_cli("evidence", "drift", "--reference", str(tmp_path / "reference.csv"),
                            "--current", str(tmp_path / "current.csv")))
    assert line.startswith(f"gatekeeper: {tmp_path / 'current.csv'}: ") and "empty" in line


def test_an_old_result_is_stale_for_high_risk(bundle, decide, tmp_path):
    loans().to_csv(tmp_path / "reference.csv", index=False)
    produce(bundle, "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "reference.csv"))
    raw = bundle.raw
    raw["drift"]["evaluated_at"] = "2020-01-01T00:00:00Z"
    (bundle.folder / "evidence.yaml").write_text(json.dumps(raw))
    allowed, violations = decide(bundle)
    # the class's general age limit, max_evidence_age_days.drift (30 days for high)
    assert not allowed and set(violations) == {"evidence.stale"}
    message = violations["evidence.stale"]
    assert message.startswith("drift.evaluated_at is ") and message.endswith(
        " days old (2020-01-01T00:00:00Z), above the 30 days the class allows")


def test_no_progress_bar_when_stderr_is_not_a_terminal(bundle, tmp_path):
    pd.DataFrame({"x": range(50)}).to_csv(tmp_path / "t.csv", index=False)
    done = run_cli("evidence", "drift", "--reference", str(tmp_path / "t.csv"), "--current", str(tmp_path / "t.csv"),
                   "--bundle", str(bundle.folder))
    assert done.code == 0 and done.stderr.strip() == f"wrote drift into {bundle.folder / 'evidence.yaml'}"
