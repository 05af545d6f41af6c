"""`gatekeeper evidence explain`: SHAP global importance is the report explainability.* reads."""

from __future__ import annotations

import json

import joblib
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from ..conftest import run_cli
from .conftest import one_line
from .data import labelled

FEATURES = ["income", "debt_ratio", "bureau_score", "age"]


def trained(kind=RandomForestClassifier, **params):
    frame = labelled()
    return kind(**params).fit(frame[FEATURES], frame["default"]), frame


def test_importance_from_a_joblib_model_is_admitted(bundle, decide, tmp_path):
    model, frame = trained(n_estimators=20, max_depth=4, random_state=0)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    (bundle.folder / "shap-importance.json").unlink()
    done = run_cli("evidence", "explain", "--model", str(tmp_path / "model.joblib"), "--data", str(tmp_path / "rows.csv"),
                   "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    assert bundle.raw["explainability"] == {"method": "shap", "report": "shap-importance.json"}
    report = json.loads((bundle.folder / "shap-importance.json").read_text())
    assert report["method"] == "shap" and report["explainer"] == "TreeExplainer" and report["rows"] == 400
    importance = report["global_importance"]
    assert set(importance) == set(FEATURES)  # the label column is not a feature: the model says which are
    assert next(iter(importance)) == "bureau_score"  # sorted, the feature the label depends on most first
    assert importance["bureau_score"] > importance["age"] >= 0
    assert decide(bundle) == (True, {})


def test_an_mlflow_model_folder_of_a_linear_model(tmp_path):
    import mlflow.sklearn

    model, frame = trained(LogisticRegression, max_iter=500)
    mlflow.sklearn.save_model(model, str(tmp_path / "mlflow-model"), serialization_format="cloudpickle")
    frame[FEATURES].to_parquet(tmp_path / "rows.parquet")
    done = run_cli("evidence", "explain", "--model", str(tmp_path / "mlflow-model"), "--data", str(tmp_path / "rows.parquet"))
    assert done.code == 0, done.stderr
    assert "explainer: LinearExplainer" in done.stdout and "bureau_score:" in done.stdout


def test_saved_shap_values(bundle, decide, tmp_path):
    import pandas as pd

    pd.DataFrame({"income": [0.2, -0.4], "age": [0.0, 0.1]}).to_csv(tmp_path / "shap.csv", index=False)
    done = run_cli("evidence", "explain", "--shap-values", str(tmp_path / "shap.csv"), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    report = json.loads((bundle.folder / "shap-importance.json").read_text())
    assert report["global_importance"] == {"income": pytest.approx(0.3), "age": pytest.approx(0.05)}
    assert decide(bundle) == (True, {})


def test_a_report_that_is_not_feature_importance_is_denied(bundle, decide):
    (bundle.folder / "shap-importance.json").write_text(json.dumps({"method": "shap", "plot": "summary.png"}))
    allowed, violations = decide(bundle)
    assert not allowed and violations == {"explainability.report_format": (
        "the explainability report shap-importance.json is not a feature-importance report: "
        "no global_importance map of feature -> importance")}


def test_data_missing_a_feature_of_the_model_exits_2(tmp_path):
    model, frame = trained(n_estimators=5, random_state=0)
    joblib.dump(model, tmp_path / "model.joblib")
    frame.drop(columns=["age"]).to_csv(tmp_path / "rows.csv", index=False)
    line = one_line(run_cli("evidence", "explain", "--model", str(tmp_path / "model.joblib"),
                            "--data", str(tmp_path / "rows.csv")))
    assert line == f"gatekeeper: {tmp_path / 'rows.csv'}: no column 'age' the model was trained on"


def test_a_file_that_is_not_a_model_exits_2(tmp_path):
    (tmp_path / "model.joblib").write_text("not a pickle")
    labelled().to_csv(tmp_path / "rows.csv", index=False)
    line = one_line(run_cli("evidence", "explain", "--model", str(tmp_path / "model.joblib"),
                            "--data", str(tmp_path / "rows.csv")))
    assert line.startswith(f"gatekeeper: {tmp_path / 'model.joblib'}: cannot load the model")


def test_the_help_warns_that_loading_a_model_runs_code():
    done = run_cli("evidence", "explain", "--help")
    assert "runs code" in " ".join(done.stdout.split()) and "own artifacts" in " ".join(done.stdout.split())
