"""The pii_scan block from a Presidio scan of a table (`gatekeeper evidence pii`).

presidio-analyzer runs offline here: no spaCy model is loaded (`NoOpNlpEngine`, since
Presidio's default engine downloads `en_core_web_lg`, which no package registry serves),
and only its pattern recognizers run (RECOGNIZERS below: regular expressions with
checksums and context words). Names and addresses need an NLP model and are not found.
Every match at or above the score threshold is an open finding: the gate has no record of
a finding being resolved other than a re-scan of cleaned data.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from gatekeeper.evidence.producers.common import (
    ProducerError,
    file_digest,
    need,
    now_rfc3339,
    progress,
    read_table,
    write_block,
)

# Presidio's predefined pattern recognizers that need no NLP model.
RECOGNIZERS = ("EmailRecognizer", "PhoneRecognizer", "CreditCardRecognizer", "IbanRecognizer", "UsSsnRecognizer",
               "IpRecognizer", "UsPassportRecognizer", "UsBankRecognizer")
DEFAULT_MIN_SCORE = 0.4  # Presidio scores a phone number 0.4 without context words; keep those
# Presidio costs ~2 ms per value, ~5 ms more with the phone recognizer (the phonenumbers
# matcher). Each value is asked only for the entities it could hold: an e-mail address needs
# an '@', every other entity here a digit, and a phone number at least six digits (the
# shortest valid numbers of Presidio's default regions). Text with neither is not analysed.
_DIGIT = re.compile(r"[0-9]")
PHONE_MIN_DIGITS = 6


def candidate_entities(text: str, entities: list[str]) -> list[str]:
    digits = len(_DIGIT.findall(text))
    return [e for e in entities if (e == "EMAIL_ADDRESS" and "@" in text)
            or (e == "PHONE_NUMBER" and digits >= PHONE_MIN_DIGITS)
            or (e not in ("EMAIL_ADDRESS", "PHONE_NUMBER") and digits > 0)]


def analyzer() -> Any:
    # tldextract (behind the e-mail recognizer) fetches the public suffix list on first use;
    # an empty URL list makes it use the snapshot it ships with.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    presidio = need("presidio_analyzer", "pii")
    from presidio_analyzer import predefined_recognizers
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    registry = presidio.RecognizerRegistry(supported_languages=["en"])
    for name in RECOGNIZERS:
        registry.add_recognizer(getattr(predefined_recognizers, name)(supported_language="en"))
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    return presidio.AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])


def cell_text(value: Any) -> str:
    """A cell as a person reading the table sees it: a float without an exponent or a
    trailing `.0` (a card number read as 4111111111111111.0 is 4111111111111111)."""
    if isinstance(value, float):  # numpy's float64 is a float too
        import numpy as np  # pandas' own dependency

        return np.format_float_positional(value, trim="-")
    return str(value)


def column_text(column: Any) -> Any:
    """The non-empty cells of one column as text (see `cell_text`)."""
    values = column.dropna()
    if values.dtype.kind == "f" or values.dtype == object:
        return values.map(cell_text)
    return values.astype(str)


def scan_table(data: str | Path, columns: list[str] | None = None, min_score: float = DEFAULT_MIN_SCORE) -> dict[str, Any]:
    """{tool, scanned_at, dataset_digest, open_findings, entities, recognizers, columns, rows}.
    Every column is read (`columns` narrows it), numbers included: phone, card, account and
    national ID numbers are often stored as numbers. CSV and TSV cells are read as the text
    in the file (a leading zero kept); typed formats' numbers as `cell_text` writes them."""
    frame = read_table(data, columns, as_text=True)
    scanned = [str(c) for c in frame.columns]
    # A value repeated in a column is analysed once and counted as often as it occurs.
    work = [(c, column_text(frame[c]).value_counts()) for c in frame.columns]
    if not any(len(values) for _, values in work):
        raise ProducerError(f"{data}: no cells to scan (every value is empty)")
    engine = analyzer()
    supported = sorted({e for r in engine.registry.recognizers for e in r.supported_entities})
    entities: Counter[str] = Counter()
    with progress("PII scan", sum(len(v) for _, v in work)) as advance:
        for _, values in work:
            for text, occurrences in values.items():
                wanted = candidate_entities(text, supported)
                if wanted:
                    for finding in engine.analyze(text=text, language="en", entities=wanted, score_threshold=min_score):
                        entities[finding.entity_type] += int(occurrences)
                advance()
    return {
        "tool": "presidio",
        "scanned_at": now_rfc3339(),
        "dataset_digest": file_digest(data),
        "open_findings": sum(entities.values()),
        "entities": dict(sorted(entities.items())),
        "recognizers": list(RECOGNIZERS),
        "columns": scanned,
        "rows": int(len(frame)),
    }


def write_pii(bundle: str | Path, block: dict[str, Any]) -> Path:
    return write_block(bundle, "pii_scan", block)
