"""The fairness block of a bundle, computed from a model's predictions with Fairlearn.

Per sensitive attribute (the `fairness:` block of README.md, "Evidence bundle"):
demographic parity ratio and difference, equalized odds difference, the size of the
smallest group, the selection rate of each group, the favourable outcome they were
measured on, and when. Fairlearn (with pandas, scipy and scikit-learn) is an optional extra,
`model-gatekeeper[fairness]`; it is imported inside `compute_fairness` only, never on the
webhook's import path.

The favourable outcome is always named by the user: for a credit model 1 may mean
"default", and measuring parity of defaults instead of approvals says the opposite of the
truth. Values are written at full precision; the policy compares them at 6 decimals.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from gatekeeper.evidence.producers.common import now_rfc3339
from gatekeeper.types.bundle import BundleFileError, bundle_path, read_bundle_yaml, validate_bundle


class FairnessError(ValueError):
    """The predictions cannot be evaluated as asked; the message says why."""


def read_predictions(path: str | Path) -> Any:
    """A table of predictions: CSV (default), TSV, JSON Lines / JSON records, or Parquet."""
    import pandas as pd

    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in (".jsonl", ".ndjson"):
            return pd.read_json(path, lines=True)
        if suffix == ".json":
            return pd.read_json(path)
        return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except FileNotFoundError:
        raise FairnessError(f"{path}: no such file") from None
    except ImportError as exc:
        raise FairnessError(f"{path}: cannot read {suffix} files here ({exc}); use CSV") from None
    except (ValueError, OSError) as exc:
        raise FairnessError(f"{path}: cannot be read as a table: {str(exc).splitlines()[0]}") from None


def _favourable(column: Any, name: str, favourable: str) -> Any:
    """1 where the outcome is the favourable one, else 0. Numbers compare as numbers
    (`--favourable 0` matches 0 and 0.0), true/false without case, anything else as text."""
    if column.isna().any():
        raise FairnessError(f"column '{name}' has {int(column.isna().sum())} empty values")
    text = column.astype(str)
    if column.dtype.kind == "b":
        return (text.str.lower() == favourable.lower()).astype(int)
    if column.dtype.kind in "iuf":
        try:
            return (column.astype(float) == float(favourable)).astype(int)
        except ValueError:
            pass
    return (text == favourable).astype(int)


def _values(frame: Any, columns: tuple[str, ...]) -> str:
    values = sorted({str(v) for c in columns for v in frame[c].dropna().unique().tolist()})
    return ", ".join(values[:6]) + (", ..." if len(values) > 6 else "")


def compute_fairness(
    frame: Any, *, label: str, prediction: str, sensitive: list[str], favourable: str | None,
    evaluated_at: str | None = None,
) -> dict[str, dict[str, Any]]:
    """{attribute: {demographic_parity_ratio, demographic_parity_difference,
    equalized_odds_difference, min_group_size, favourable_outcome, selection_rates,
    evaluated_at}} for each sensitive column."""
    try:
        from fairlearn.metrics import (
            MetricFrame,
            count,
            demographic_parity_difference,
            demographic_parity_ratio,
            equalized_odds_difference,
            selection_rate,
        )
    except ImportError:
        raise FairnessError("Fairlearn is not installed: pip install 'model-gatekeeper[fairness]'") from None

    missing = [c for c in (label, prediction, *sensitive) if c not in frame.columns]
    if missing:
        raise FairnessError(f"no column {', '.join(repr(c) for c in missing)} in the predictions "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise FairnessError("the predictions table has no rows")
    if favourable is None or not str(favourable).strip():
        raise FairnessError(f"name the favourable outcome with --favourable (values of '{label}' and "
                            f"'{prediction}': {_values(frame, (label, prediction))}); e.g. for a credit model "
                            "where 1 means default, --favourable 0")
    favourable = str(favourable).strip()
    y_true = _favourable(frame[label], label, favourable)
    y_pred = _favourable(frame[prediction], prediction, favourable)
    if not y_true.any() and not y_pred.any():
        raise FairnessError(f"no row of '{label}' or '{prediction}' is the favourable outcome '{favourable}' "
                            f"(values: {_values(frame, (label, prediction))})")
    evaluated_at = evaluated_at or now_rfc3339()
    block: dict[str, dict[str, Any]] = {}
    for attribute in sensitive:
        groups = frame[attribute].astype("string").fillna("(missing)")
        if groups.nunique() < 2:
            raise FairnessError(f"sensitive column '{attribute}' has a single group; fairness needs at least two")
        by_group = MetricFrame(metrics={"n": count, "rate": selection_rate}, y_true=y_true, y_pred=y_pred,
                               sensitive_features=groups).by_group
        values = {
            "demographic_parity_ratio": demographic_parity_ratio(y_true, y_pred, sensitive_features=groups),
            "demographic_parity_difference": demographic_parity_difference(y_true, y_pred, sensitive_features=groups),
            "equalized_odds_difference": equalized_odds_difference(y_true, y_pred, sensitive_features=groups),
        }
        for metric, value in values.items():
            if value is None or not math.isfinite(float(value)):
                raise FairnessError(f"{metric} for '{attribute}' is undefined ({value}): every group needs both "
                                    "outcomes among the labels and at least one prediction")
        block[attribute] = {metric: float(value) for metric, value in values.items()}
        block[attribute]["min_group_size"] = int(by_group["n"].min())
        block[attribute]["favourable_outcome"] = favourable
        block[attribute]["selection_rates"] = {str(g): float(r) for g, r in by_group["rate"].items()}
        block[attribute]["evaluated_at"] = evaluated_at
    return block


def write_fairness(bundle_file: str | Path, block: dict[str, dict[str, Any]]) -> Path:
    """Set the bundle's fairness block (attributes not computed now are kept) and validate it."""
    path = bundle_path(bundle_file)
    try:
        raw = read_bundle_yaml(path)
        raw["fairness"] = {**(raw.get("fairness") or {}), **block}
        validate_bundle(raw, path)
    except BundleFileError as exc:
        raise FairnessError(str(exc)) from None
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path
