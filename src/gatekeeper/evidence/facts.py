"""Turn loaded evidence into the facts the policy reads (docs/policy-input.md).

Python reads files and verifies signatures here; it decides nothing. Whatever a source
(files, MLflow) loaded goes through this one function.
"""

from __future__ import annotations

import re
from typing import Any

from gatekeeper.evidence.sections import section_digests
from gatekeeper.evidence.signing.statements import verify_statement
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.evidence.source import LoadedEvidence
from gatekeeper.types.canonical import sha256_digest
from gatekeeper.types.strict_text import DuplicateKeyError, load_json

# Model Cards (Mitchell et al., 2019) headings -> the section names the matrix uses.
_SECTION_ALIASES = {
    "intended_uses": "intended_use",
    "caveats_and_recommendations": "limitations",
    "limitations_and_risks": "limitations",
    "evaluation_data": "evaluation",
    "quantitative_analyses": "evaluation",
    "ethical_considerations": "ethics",
}
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def section_name(heading: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", heading.lower()).strip("_")
    return _SECTION_ALIASES.get(name, name)


def markdown_sections(text: str) -> dict[str, str]:
    """Split a Markdown model card into {section_name: text}; a section runs to the next heading of its level or above."""
    sections: dict[str, str] = {}
    open_sections: list[tuple[int, str]] = []
    for line in text.splitlines():
        match = _HEADING.match(line)
        if match:
            level = len(match[1])
            open_sections = [(lvl, name) for lvl, name in open_sections if lvl < level]
            name = section_name(match[2])
            sections.setdefault(name, "")
            open_sections.append((level, name))
            continue
        for _, name in open_sections:
            sections[name] += line + "\n"
    return {name: body.strip() for name, body in sections.items()}


def evidence_facts(loaded: LoadedEvidence, trust: TrustStore) -> dict[str, Any]:
    """The `evidence`, `sections`, `signoffs` and `waivers` parts of a model entry, plus the evidence digest."""
    bundle = loaded.bundle
    evidence = bundle.model_dump(mode="json", by_alias=True, exclude_none=True)
    if bundle.model_card and bundle.model_card.path:
        content = loaded.files.get(bundle.model_card.path)
        card = evidence["model_card"]
        if content is None:
            card["error"] = f"model card {bundle.model_card.path} not found next to the evidence"
        else:
            card["sections"] = {**markdown_sections(content.decode("utf-8", "replace")), **(card.get("sections") or {})}
    if bundle.explainability and bundle.explainability.report:
        report = bundle.explainability.report
        content = loaded.files.get(report)
        evidence["explainability"]["report_present"] = "://" in report or content is not None
        if content is not None:  # a URI is not fetched: its shape is not checked
            evidence["explainability"].update(report_shape(content))
    return {
        "evidence": evidence,
        "sections": section_digests(bundle, loaded.files),
        "signoffs": [verify_statement(loaded.files.get(path), path, trust) for path in bundle.signoffs],
        "waivers": [verify_statement(loaded.files.get(path), path, trust) for path in bundle.waivers],
        "evidence_digest": evidence_digest(evidence, loaded.files),
    }


def report_shape(content: bytes) -> dict[str, Any]:
    """{report_features: n} for a feature-importance report, else {report_problem}.

    Feature importance is a non-empty map feature -> number >= 0: under `global_importance`
    (what `gatekeeper evidence explain` writes), or the whole report when it is only that
    map (reports written before the producer existed).
    """
    try:
        report = load_json(content)
    except DuplicateKeyError as exc:
        return {"report_problem": str(exc)}
    except ValueError:  # malformed, not UTF-8, NaN/Infinity
        return {"report_problem": "not JSON"}
    importance = report.get("global_importance") if isinstance(report, dict) else None
    if importance is None and isinstance(report, dict) and report and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in report.values()):
        importance = report
    if not isinstance(importance, dict) or not importance:
        return {"report_problem": "no global_importance map of feature -> importance"}
    bad = [name for name, value in importance.items()
           if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0]
    if bad:
        return {"report_problem": f"importance of {', '.join(map(repr, bad[:3]))} is not a number >= 0"}
    return {"report_features": len(importance)}


def evidence_digest(evidence: dict[str, Any], files: dict[str, bytes | None]) -> str:
    """What the decision was based on: the bundle and every file it refers to."""
    return sha256_digest(evidence, files=files)
