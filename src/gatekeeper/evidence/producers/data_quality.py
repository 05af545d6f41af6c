"""The data_quality block from a Great Expectations result (`gatekeeper evidence data-quality`).

Input is the JSON Great Expectations writes: a validation result
(`ExpectationSuiteValidationResult.to_json_dict()`: success, results, statistics,
suite_name, meta) or a checkpoint result holding several under `run_results`. The file is
parsed as documented JSON; the great-expectations library is not needed to read it.
A failed expectation is named `type(column)` so the gate's message says which check failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gatekeeper.evidence.producers.common import ProducerError, file_digest, load_document, write_block


def _validations(data: Any, path: Path) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("results"), list) and isinstance(data.get("statistics"), dict):
        return [data]
    if isinstance(data, dict) and isinstance(data.get("run_results"), dict) and data["run_results"]:
        found = []
        for entry in data["run_results"].values():
            # GX 1.x keeps the validation result itself; 0.x wrapped it in {"validation_result": ...}.
            entry = entry.get("validation_result", entry) if isinstance(entry, dict) else entry
            found += _validations(entry, path)
        return found
    raise ProducerError(f"{path}: not a Great Expectations validation or checkpoint result "
                        "(expected 'results' and 'statistics', or 'run_results')")


def expectation_name(result: dict[str, Any]) -> str:
    config = result.get("expectation_config") or {}
    kind = config.get("type") or config.get("expectation_type") or "expectation"
    kwargs = config.get("kwargs") or {}
    column = kwargs.get("column") or kwargs.get("column_list") or kwargs.get("column_A")
    if isinstance(column, list):
        column = ",".join(map(str, column))
    return f"{kind}({column})" if column else str(kind)


def _evaluated_at(validation: dict[str, Any]) -> str | None:
    """When the data was validated: the run time of a checkpoint, else when GX loaded the batch."""
    meta = validation.get("meta") or {}
    run_id = meta.get("run_id") or {}
    stamp = meta.get("validation_time") or (run_id.get("run_time") if isinstance(run_id, dict) else None)
    loaded = str((meta.get("batch_markers") or {}).get("ge_load_time") or "")
    if not stamp and len(loaded) >= 16:  # 20261126T112147.140878Z
        stamp = f"{loaded[0:4]}-{loaded[4:6]}-{loaded[6:8]}T{loaded[9:11]}:{loaded[11:13]}:{loaded[13:15]}Z"
    return str(stamp) if stamp else None


def data_quality_block(result_file: str | Path, data: str | Path | None = None) -> dict[str, Any]:
    path = Path(result_file)
    validations = _validations(load_document(path), path)
    evaluated = successful = 0
    failed: list[str] = []
    suites: list[str] = []
    for validation in validations:
        stats = validation["statistics"]
        try:
            evaluated += int(stats["evaluated_expectations"])
            successful += int(stats["successful_expectations"])
        except (KeyError, TypeError, ValueError):
            raise ProducerError(f"{path}: statistics lack evaluated/successful expectation counts") from None
        failed += [expectation_name(r) for r in validation["results"] if isinstance(r, dict) and r.get("success") is False]
        suite = validation.get("suite_name") or (validation.get("meta") or {}).get("expectation_suite_name")
        if suite and suite not in suites:
            suites.append(str(suite))
    if evaluated == 0:
        raise ProducerError(f"{path}: the result evaluated no expectations")
    times = [t for t in map(_evaluated_at, validations) if t]
    block: dict[str, Any] = {
        "tool": "great_expectations",
        "suite": ", ".join(suites) or None,
        "success": all(bool(v.get("success")) for v in validations),
        # Recomputed from the counts: across several validations a mean of percentages would be wrong.
        "success_percent": 100.0 * successful / evaluated,
        "evaluated_expectations": evaluated,
        "failed": failed,
        "evaluated_at": max(times) if times else None,
    }
    if data is not None:
        if not Path(data).is_file():
            raise ProducerError(f"{data}: no such file")
        block["dataset_digest"] = file_digest(data)
    return {k: v for k, v in block.items() if v is not None}


def write_data_quality(bundle: str | Path, block: dict[str, Any]) -> Path:
    return write_block(bundle, "data_quality", block)
