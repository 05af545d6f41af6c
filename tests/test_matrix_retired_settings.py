"""One limit on the drift result's age: `max_evidence_age_days.drift`. A matrix still
setting the retired `drift.max_age_days` would silently lose its limit, so `gatekeeper
policy test` refuses it, one line per place, saying what to set instead."""

from __future__ import annotations

import shutil

from .conftest import POLICIES, require_tool, run_cli


def test_drift_max_age_days_is_refused_naming_max_evidence_age_days(tmp_path):
    require_tool("opa")
    require_tool("regal")
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    matrix = folder / "gatekeeper" / "matrix" / "requirements.yaml"
    text = matrix.read_text()
    assert text.count("drift: {drift_share_max: 0.30}") == 1 and "overrides: {}" in text
    matrix.write_text(text.replace("drift: {drift_share_max: 0.30}", "drift: {drift_share_max: 0.30, max_age_days: 30}")
                      .replace("overrides: {}", "overrides: {development: {limited: {drift: {max_age_days: 90}}}}"))
    result = run_cli("policy", "test", "--policy-dir", str(folder))
    assert result.code == 1, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("FAIL  matrix")] == [
        "FAIL  matrix: overrides.development.limited.drift.max_age_days is no longer read: "
        "set overrides.development.limited.max_evidence_age_days.drift (days) instead",
        "FAIL  matrix: risk_classes.high.drift.max_age_days is no longer read: "
        "set risk_classes.high.max_evidence_age_days.drift (days) instead",
    ]
    assert "PASS  opa check --strict" in result.stdout and "Traceback" not in result.stderr
