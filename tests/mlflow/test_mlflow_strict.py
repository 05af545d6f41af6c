"""The MLflow source parses published blocks as strictly as the file source (issue 26):
a duplicate key or NaN in `gatekeeper/*.json` is evidence.unreadable, never last-wins or
"not measured". A real MLflow server, a real OPA."""

from __future__ import annotations

import uuid

from .registry import inference_service, only_decision, violations, write_manifest


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def refused(scientist, check, tmp_path, file: str, content: bytes) -> str:
    version = scientist.train(unique("strict"))
    scientist.upload(version, file, content)
    result = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert result.code == 2, result.stdout + result.stderr
    decision = only_decision(result.json())
    assert decision["allowed"] is False and violations(decision) == {"evidence.unreadable"}
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    assert f"artifact gatekeeper/{file}:" in line and "Traceback" not in result.stderr
    return line


def test_a_duplicate_key_in_a_published_pii_scan_is_refused(scientist, check, tmp_path):
    line = refused(scientist, check, tmp_path, "pii-scan.json",
                   b'{"tool": "presidio", "scanned_at": "2026-10-01T00:00:00Z", "open_findings": 7, '
                   b'"open_findings": 0}')
    assert "duplicate key 'open_findings' in a JSON object: a key may appear only once in a mapping" in line


def test_nan_in_a_published_drift_result_is_refused(scientist, check, tmp_path):
    line = refused(scientist, check, tmp_path, "drift.json",
                   b'{"method": "evidently DataDriftPreset", "dataset_drift": true, "drift_share": NaN, '
                   b'"evaluated_at": "2026-11-20T00:00:00Z"}')
    assert "NaN is not a JSON number" in line


def test_a_published_result_that_contradicts_itself_is_refused(scientist, check, tmp_path):
    line = refused(scientist, check, tmp_path, "data-quality.json",
                   b'{"suite": "transactions", "success": false, "success_percent": 100.0, '
                   b'"evaluated_expectations": 8, "failed": ["expect_column_values_to_not_be_null(amount)"], '
                   b'"evaluated_at": "2026-10-01T00:00:00Z"}')
    assert "field 'data_quality': success_percent is 100 but success is false" in line
