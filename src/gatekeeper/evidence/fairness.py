"""The fairness block of a bundle, computed from a model's predictions with Fairlearn.

Per sensitive attribute (the `fairness:` block of README.md, "Evidence bundle"):
demographic parity ratio and difference, equalized odds difference, and the size of the
smallest group. Fairlearn (with pandas, scipy and scikit-learn) is an optional extra,
`model-gatekeeper[fairness]`; it is imported inside `compute_fairness` only, never on the
webhook's import path.

Values are kept at full precision: rounding could move a ratio of 0.7996 onto the 0.80
threshold and turn a failure into a pass.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

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


def _binary(column: Any, name: str, pos_label: str | None) -> Any:
    """0/1 outcomes; with `pos_label`, 1 where the value equals it (compared as text)."""
    if column.isna().any():
        raise FairnessError(f"column '{name}' has {int(column.isna().sum())} empty values")
    if pos_label is not None:
        return (column.astype(str) == str(pos_label)).astype(int)
    values = set(column.unique().tolist())
    if values <= {0, 1} or values <= {True, False}:
        return column.astype(int)
    shown = ", ".join(sorted(map(str, values))[:5])
    raise FairnessError(f"column '{name}' is not binary 0/1 (values: {shown}); pass --pos-label with the "
                        "favourable outcome")


def compute_fairness(
    frame: Any, *, label: str, prediction: str, sensitive: list[str], pos_label: str | None = None,
) -> dict[str, dict[str, Any]]:
    """{attribute: {demographic_parity_ratio, demographic_parity_difference,
    equalized_odds_difference, min_group_size}} for each sensitive column."""
    try:
        from fairlearn.metrics import (
            MetricFrame,
            count,
            demographic_parity_difference,
            demographic_parity_ratio,
            equalized_odds_difference,
        )
    except ImportError:
        raise FairnessError("Fairlearn is not installed: pip install 'model-gatekeeper[fairness]'") from None

    missing = [c for c in (label, prediction, *sensitive) if c not in frame.columns]
    if missing:
        raise FairnessError(f"no column {', '.join(repr(c) for c in missing)} in the predictions "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    if frame.empty:
        raise FairnessError("the predictions table has no rows")
    y_true = _binary(frame[label], label, pos_label)
    y_pred = _binary(frame[prediction], prediction, pos_label)
    block: dict[str, dict[str, Any]] = {}
    for attribute in sensitive:
        groups = frame[attribute].astype("string").fillna("(missing)")
        if groups.nunique() < 2:
            raise FairnessError(f"sensitive column '{attribute}' has a single group; fairness needs at least two")
        sizes = MetricFrame(metrics={"n": count}, y_true=y_true, y_pred=y_pred, sensitive_features=groups)
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
        block[attribute]["min_group_size"] = int(sizes.by_group["n"].min())
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
