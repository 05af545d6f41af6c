"""The drift block from an Evidently data-drift report (`gatekeeper evidence drift`).

Runs Evidently's `DataDriftPreset` on a reference table (the training data) and a current
one (recent inputs), or reads a report saved with Evidently (`snapshot.json()` /
`save_json`). Evidently picks each column's test by type and size (K-S p-value for small
numeric samples, Wasserstein distance above 1,000 rows, chi-squared / Jensen-Shannon for
categories); a column drifted when its test failed. `drift_share` is Evidently's share of
drifted columns and `dataset_drift` its rule: share >= the preset's threshold (0.5).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gatekeeper.evidence.producers.common import (
    ProducerError,
    file_digest,
    load_document,
    need,
    now_rfc3339,
    progress,
    read_table,
    write_block,
)

DATASET_DRIFT_SHARE = 0.5  # DataDriftPreset's default drift_share: the dataset drifted at this share


def _column_of(test: dict[str, Any]) -> str | None:
    # The column a per-column drift test is about: its metric's `column` parameter.
    for holder in (test.get("metric_config") or {}, test):
        params = holder.get("params") or {}
        if isinstance(params, dict) and params.get("column"):
            return str(params["column"])
    return None


def parse_report(report: dict[str, Any], where: str) -> dict[str, Any]:
    """{method, dataset_drift, drift_share, drifted_columns, columns} from an Evidently report's JSON."""
    metrics = report.get("metrics") if isinstance(report, dict) else None
    if not isinstance(metrics, list):
        raise ProducerError(f"{where}: not an Evidently report (no metrics list)")
    counted = None
    columns: list[str] = []
    for metric in metrics:
        if not isinstance(metric, dict):
            continue
        name = str(metric.get("metric_name") or metric.get("metric_id") or "")
        value = metric.get("value")
        if name.startswith("DriftedColumnsCount") and isinstance(value, dict) and "share" in value:
            counted = value
        elif name.startswith("ValueDrift"):
            column = (metric.get("config") or {}).get("column") or _column_of(metric)
            if column:
                columns.append(str(column))
    if counted is None:
        raise ProducerError(f"{where}: an Evidently report without a data-drift result "
                            "(no DriftedColumnsCount metric: run it with DataDriftPreset)")
    tests = report.get("tests")
    if not isinstance(tests, list) or not tests:
        raise ProducerError(f"{where}: the Evidently report has no tests; run it with include_tests=True "
                            "so it names the drifted columns")
    drifted = []
    for test in tests:
        column = _column_of(test) if isinstance(test, dict) else None
        if column and test.get("status") == "FAIL" and column not in drifted:
            drifted.append(column)
    share = float(counted["share"])
    return {
        "method": "evidently DataDriftPreset",
        "dataset_drift": share >= DATASET_DRIFT_SHARE,
        "drift_share": share,
        "drifted_columns": drifted,
        "columns": len(columns) or None,
    }


def run_report(reference: Any, current: Any) -> dict[str, Any]:
    os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's usage telemetry
    need("evidently", "drift")
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)
    # .json(), not .dict(): the dict holds numpy floats and enums.
    return json.loads(snapshot.json())


def free_text(frame: Any) -> list[str]:
    """Text columns whose values are mostly distinct (notes, IDs): no distribution to compare."""
    return [str(c) for c in frame.columns
            if frame[c].dtype.kind in "OSU" and frame[c].nunique(dropna=True) > max(20, len(frame) // 2)]


def drift_from_tables(reference: str | Path, current: str | Path, columns: list[str] | None = None,
                      exclude: list[str] | None = None, note: Any = None) -> dict[str, Any]:
    """Drift on `columns`; by default on every column but `exclude` (the label, IDs) and free text."""
    with progress("drift", 3) as advance:
        ref = read_table(reference, columns)
        if columns is None:
            unknown = [c for c in exclude or [] if c not in ref.columns]
            if unknown:
                raise ProducerError(f"{reference}: no column {', '.join(map(repr, unknown))} to exclude")
            text = [c for c in free_text(ref) if c not in (exclude or [])]
            if text and note:
                note(f"left out free-text columns {', '.join(text)} (name them in --columns to compare them)")
            ref = ref[[c for c in map(str, ref.columns) if c not in {*(exclude or []), *text}]]
            if ref.columns.empty:
                raise ProducerError(f"{reference}: no column left to compare")
        advance()
        cur = read_table(current, columns or [str(c) for c in ref.columns])
        advance()
        block = parse_report(run_report(ref, cur), f"{current}")
        advance()
    return {"tool": "evidently", **block, "columns": block["columns"] or len(ref.columns),
            "evaluated_at": now_rfc3339(), "reference_digest": file_digest(reference),
            "current_digest": file_digest(current)}


def drift_from_report(path: str | Path) -> dict[str, Any]:
    report = load_document(path)
    block = parse_report(report, str(path))
    evaluated = (report.get("timestamp") if isinstance(report, dict) else None) or now_rfc3339()
    return {k: v for k, v in {"tool": "evidently", **block, "evaluated_at": evaluated}.items() if v is not None}


def write_drift(bundle: str | Path, block: dict[str, Any]) -> Path:
    return write_block(bundle, "drift", block)
