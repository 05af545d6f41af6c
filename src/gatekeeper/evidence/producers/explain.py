"""The explainability report from SHAP (`gatekeeper evidence explain`).

Global feature importance = the mean absolute SHAP value per feature over the rows given,
for scikit-learn models saved as a joblib file or an MLflow model folder (sklearn flavour),
or from SHAP values saved as a table (one column per feature). Tree ensembles use
TreeExplainer, linear models LinearExplainer, anything else the permutation explainer.

Loading a model file unpickles it, and unpickling runs code: only load your own artifacts.

The report is what `explainability.*` checks (docs/policy-input.md): `global_importance`,
a non-empty map of feature -> mean |SHAP value|, sorted from most to least important.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.evidence.producers.common import ProducerError, need, now_rfc3339, progress, read_table, write_block
from gatekeeper.types.bundle import bundle_path

REPORT_FILE = "shap-importance.json"
CHUNK_ROWS = 100  # rows per SHAP call: the progress bar moves, and memory stays flat


def load_model(path: str | Path) -> Any:
    """A scikit-learn model from a joblib/pickle file or an MLflow model folder. Runs the pickle's code."""
    path = Path(path)
    if path.is_dir():
        mlmodel = path / "MLmodel"
        if not mlmodel.is_file():
            raise ProducerError(f"{path}: not an MLflow model folder (no MLmodel file)")
        try:
            flavor = (yaml.safe_load(mlmodel.read_text()) or {}).get("flavors", {}).get("sklearn") or {}
        except yaml.YAMLError:
            raise ProducerError(f"{mlmodel}: not valid YAML") from None
        if "pickled_model" not in flavor:
            raise ProducerError(f"{mlmodel}: no sklearn flavour (only scikit-learn models are explained)")
        path = path / flavor["pickled_model"]
        if flavor.get("serialization_format") == "skops":
            return _load_skops(path, flavor.get("skops_trusted_types") or [])
    if not path.is_file():
        raise ProducerError(f"{path}: no such file")
    try:
        if path.suffix in (".joblib", ".jbl"):
            return need("joblib", "explain").load(path)
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - documented: the user's own artifacts only
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad model file
        raise ProducerError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None


def _load_skops(path: Path, trusted: list[str]) -> Any:
    """MLflow's skops format: loads only the types MLflow recorded as trusted."""
    try:
        import skops.io
    except ImportError:
        raise ProducerError(f"{path}: saved in skops format; pip install skops (or save with "
                            "serialization_format='cloudpickle')") from None
    try:
        return skops.io.load(path, trusted=trusted)
    except Exception as exc:  # noqa: BLE001 - any load failure is a bad model file
        raise ProducerError(f"{path}: cannot load the model ({type(exc).__name__}: {exc})") from None


def _explainer(model: Any, frame: Any) -> tuple[Any, str]:
    shap = need("shap", "explain")
    name = type(model).__name__
    if hasattr(model, "estimators_") or hasattr(model, "tree_") or "Boost" in name:
        try:
            return shap.TreeExplainer(model), "TreeExplainer"
        except Exception:  # noqa: BLE001 - not every ensemble is a tree ensemble; fall through
            pass
    if hasattr(model, "coef_"):
        return shap.LinearExplainer(model, frame), "LinearExplainer"
    predict = getattr(model, "predict_proba", None) or getattr(model, "predict", None)
    if predict is None:
        raise ProducerError(f"a {name} is not a model SHAP can explain (no predict)")
    background = frame.sample(min(len(frame), 100), random_state=0)
    return shap.explainers.Permutation(predict, background), "PermutationExplainer"


def _positive_class(values: Any) -> Any:
    """SHAP values (rows, features) for the output explained: class 1 of a binary classifier."""
    np = need("numpy", "explain")
    values = np.asarray(getattr(values, "values", values), dtype=float)
    if values.ndim == 3:  # (rows, features, classes)
        values = values[..., 1] if values.shape[2] == 2 else np.abs(values).mean(axis=2)
    return values


def importance_from_model(model_path: str | Path, data: str | Path, columns: list[str] | None = None) -> dict[str, Any]:
    frame = read_table(data, columns)
    model = load_model(model_path)
    expected = getattr(model, "feature_names_in_", None)
    if expected is not None:
        missing = [str(c) for c in expected if c not in frame.columns]
        if missing:
            raise ProducerError(f"{data}: no column {', '.join(repr(c) for c in missing)} the model was trained on")
        frame = frame[list(expected)]
    non_numeric = [str(c) for c in frame.columns if frame[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ProducerError(f"{data}: column(s) {', '.join(non_numeric)} are not numeric; pass the model's features "
                            "with --columns")
    explainer, kind = _explainer(model, frame)
    np = need("numpy", "explain")
    total = np.zeros(len(frame.columns))
    with progress("SHAP", len(frame)) as advance:
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start:start + CHUNK_ROWS]
            result = explainer(chunk) if kind == "PermutationExplainer" else explainer.shap_values(chunk)
            total += np.abs(_positive_class(result)).sum(axis=0)
            advance(len(chunk))
    importance = dict(zip(map(str, frame.columns), (total / len(frame)).tolist()))
    return report(importance, explainer=kind, model=type(model).__name__, rows=len(frame))


def importance_from_values(values_path: str | Path, columns: list[str] | None = None) -> dict[str, Any]:
    """From saved SHAP values: a table with one column per feature, one row per explained row."""
    frame = read_table(values_path, columns)
    non_numeric = [str(c) for c in frame.columns if frame[c].dtype.kind not in "biuf"]
    if non_numeric:
        raise ProducerError(f"{values_path}: column(s) {', '.join(non_numeric)} are not SHAP values (not numeric)")
    importance = {str(c): float(frame[c].abs().mean()) for c in frame.columns}
    return report(importance, explainer="saved values", model=None, rows=len(frame))


def report(importance: dict[str, float], *, explainer: str, model: str | None, rows: int) -> dict[str, Any]:
    ordered = dict(sorted(importance.items(), key=lambda item: -item[1]))
    shap = need("shap", "explain") if explainer != "saved values" else None
    return {k: v for k, v in {
        "method": "shap",
        "shap_version": getattr(shap, "__version__", None),
        "explainer": explainer,
        "model": model,
        "rows": rows,
        "statistic": "mean absolute SHAP value",
        "computed_at": now_rfc3339(),
        "global_importance": ordered,
    }.items() if v is not None}


def write_explanation(bundle: str | Path, content: dict[str, Any], report_name: str = REPORT_FILE) -> Path:
    """Write the report beside the bundle's evidence.yaml and point explainability at it."""
    folder = bundle_path(bundle).parent
    if not folder.is_dir():
        raise ProducerError(f"{bundle_path(bundle)}: no such bundle")
    (folder / report_name).write_text(json.dumps(content, indent=2) + "\n")
    return write_block(bundle, "explainability", {"method": "shap", "report": report_name})
