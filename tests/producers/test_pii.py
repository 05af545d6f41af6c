"""`gatekeeper evidence pii`: a Presidio scan with pattern recognizers decides pii.*."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from ..conftest import run_cli
from .conftest import one_line


# Luhn-valid card numbers and valid US phone numbers, as a table stores them: numbers.
CARDS = [4111111111111111, 5555555555554444, 378282246310005, 4012888888881881]
PHONES = [2024561111, 6502530000, 2125087000]


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
    assert scan["columns"] == ["id", "notes", "contact"] and scan["rows"] == 40  # every column by default
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
    assert yaml.safe_load(done.stdout)["pii_scan"]["columns"] == ["notes"]


def numbers(kind: str) -> pd.DataFrame:
    """40 customers whose card and phone numbers are stored as integers, or as floats (a column
    with empty cells is read as float64: 4111111111111111.0)."""
    card = [CARDS[i % len(CARDS)] if i < 8 else None for i in range(40)]
    phone = [PHONES[i % len(PHONES)] if i < 6 else None for i in range(40)]
    frame = pd.DataFrame({"id": range(40), "segment": ["retail"] * 40, "card": card, "phone": phone})
    if kind == "int":
        frame = frame.fillna(0).astype({"card": "int64", "phone": "int64"})
    else:
        frame = frame.astype({"card": "float64", "phone": "float64"})
    return frame


@pytest.mark.parametrize("kind", ["int", "float"])
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_card_and_phone_numbers_stored_as_numbers_are_found_and_denied(bundle, decide, tmp_path, kind, suffix):
    data = tmp_path / f"customers{suffix}"
    frame = numbers(kind)
    frame.to_parquet(data) if suffix == ".parquet" else frame.to_csv(data, index=False)
    done = run_cli("evidence", "pii", "--data", str(data), "--bundle", str(bundle.folder))
    assert done.code == 0, done.stderr
    scan = bundle.raw["pii_scan"]
    assert scan["columns"] == ["id", "segment", "card", "phone"]
    assert scan["entities"] == {"CREDIT_CARD": 8, "PHONE_NUMBER": 6} and scan["open_findings"] == 14
    allowed, violations = decide(bundle)
    assert not allowed and violations == {
        "pii.open_findings": "the PII scan has 14 open findings, above 0 (CREDIT_CARD 8, PHONE_NUMBER 6)"}


def test_numbers_are_read_as_the_text_a_person_sees():
    from gatekeeper.evidence.producers.pii import cell_text, column_text

    assert [cell_text(v) for v in (4111111111111111.0, 2.5, 1e16, 0.1, 7, "0044 20 7946 0958")] == [
        "4111111111111111", "2.5", "10000000000000000", "0.1", "7", "0044 20 7946 0958"]
    column = pd.Series([4111111111111111.0, None, 5555555555554444.0])
    assert list(column_text(column)) == ["4111111111111111", "5555555555554444"]
    assert list(column_text(pd.Series([4111111111111111, 7]))) == ["4111111111111111", "7"]


def test_csv_cells_are_read_as_written(tmp_path):
    # a leading zero or a `.0` in the file is what a person sees: not re-read as a number
    (tmp_path / "c.csv").write_text("phone,ref\n07700900123,1.0\n")
    done = run_cli("evidence", "pii", "--data", str(tmp_path / "c.csv"))
    assert done.code == 0, done.stderr
    assert yaml.safe_load(done.stdout)["pii_scan"]["columns"] == ["phone", "ref"]


def test_a_table_with_no_cells_exits_2(tmp_path):
    pd.DataFrame({"card": [None, None], "note": [None, None]}).to_parquet(tmp_path / "blank.parquet")
    line = one_line(run_cli("evidence", "pii", "--data", str(tmp_path / "blank.parquet")))
    assert line == f"gatekeeper: {tmp_path / 'blank.parquet'}: no cells to scan (every value is empty)"


def test_an_empty_table_exits_2(tmp_path):
    (tmp_path / "empty.csv").write_text("notes,contact\n")
    line = one_line(run_cli("evidence", "pii", "--data", str(tmp_path / "empty.csv")))
    assert line == f"gatekeeper: {tmp_path / 'empty.csv'}: the table is empty (no rows)"


def test_a_missing_column_exits_2(tmp_path):
    customers().to_csv(tmp_path / "customers.csv", index=False)
    line = one_line(run_cli("evidence", "pii", "--data", str(tmp_path / "customers.csv"), "--columns", "email"))
    assert line.startswith(f"gatekeeper: {tmp_path / 'customers.csv'}: no column 'email'")
