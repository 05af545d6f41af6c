"""`gatekeeper evidence pii`: a Presidio scan with pattern recognizers decides pii.*."""

from __future__ import annotations

import pandas as pd

from ..conftest import run_cli
from .conftest import one_line


def customers(emails: int = 0, cards: int = 0) -> pd.DataFrame:
    notes = [f"asked about loan {i} terms" for i in range(40)]
    contact = ["prefers letters"] * 40
    for i in range(emails):
        contact[i] = f"write to applicant{i}@example.com"
    for i in range(cards):
        notes[i] = "paid with card 4111 1111 1111 1111"
    return pd.DataFrame({"id": range(40), "notes": notes, "contact": contact})


def test_clean_data_has_no_findings_and_is_admitted(bundle, decide, tmp_path):
    customers().to_csv(tmp_path / "customers.csv", index=False)
    done = run_cli("evidence", "pii", "--data", str(tmp_path / "customers.csv"), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    scan = bundle.raw["pii_scan"]
    assert scan["open_findings"] == 0 and scan["entities"] == {} and scan["tool"] == "presidio"
    assert scan["columns"] == ["notes", "contact"] and scan["rows"] == 40  # text columns only by default
    assert "EmailRecognizer" in scan["recognizers"] and scan["dataset_digest"].startswith("sha256:")
    assert decide(bundle) == (True, {})


def test_findings_are_counted_per_entity_type_and_denied(bundle, decide, tmp_path):
    customers(emails=3, cards=2).to_parquet(tmp_path / "customers.parquet")
    done = run_cli("evidence", "pii", "--data", str(tmp_path / "customers.parquet"), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    scan = bundle.raw["pii_scan"]
    assert scan["entities"] == {"CREDIT_CARD": 2, "EMAIL_ADDRESS": 3} and scan["open_findings"] == 5
    allowed, violations = decide(bundle)
    assert not allowed and violations == {
        "pii.open_findings": "the PII scan has 5 open findings, above 0 (CREDIT_CARD 2, EMAIL_ADDRESS 3)"}


def test_columns_choose_what_is_scanned(tmp_path):
    customers(emails=3, cards=2).to_csv(tmp_path / "customers.csv", index=False)
    done = run_cli("evidence", "pii", "--data", str(tmp_path / "customers.csv"), "--columns", "notes")
    assert done.code == 0, done.stderr
    assert "CREDIT_CARD: 2" in done.stdout and "EMAIL" not in done.stdout


def test_an_empty_table_exits_2(tmp_path):
    (tmp_path / "empty.csv").write_text("notes,contact\n")
    line = one_line(run_cli("evidence", "pii", "--data", str(tmp_path / "empty.csv")))
    assert line == f"gatekeeper: {tmp_path / 'empty.csv'}: the table is empty (no rows)"


def test_a_missing_column_exits_2(tmp_path):
    customers().to_csv(tmp_path / "customers.csv", index=False)
    line = one_line(run_cli("evidence", "pii", "--data", str(tmp_path / "customers.csv"), "--columns", "email"))
    assert line.startswith(f"gatekeeper: {tmp_path / 'customers.csv'}: no column 'email'")
