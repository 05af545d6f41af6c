"""SARIF 2.1.0 for code-scanning UIs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from gatekeeper import __version__
from gatekeeper.reports.common import (
    EVALUATION_ERROR_RULE, Reports, artifact_path, observed_text, severity, who,
)
from gatekeeper.types.canonical import sha256_hex
from gatekeeper.types.decision import SourceLocation

TOOL_NAME = "model-gatekeeper"
TOOL_URI = "https://model-gatekeeper.io"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule_name(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-]", rule_id) if part)


def _location(source: SourceLocation | None, base: Path | None) -> list[dict[str, Any]]:
    if source is None:
        return []
    uri = artifact_path(source.file, base)
    if uri == "<stdin>":
        uri = "stdin"
    artifact: dict[str, Any] = {"uri": Path(uri).as_uri() if Path(uri).is_absolute() else uri}
    if not Path(uri).is_absolute():
        artifact["uriBaseId"] = "%SRCROOT%"
    return [{"physicalLocation": {"artifactLocation": artifact, "region": {"startLine": max(1, source.line)}}}]


def _fingerprint(*parts: object) -> str:
    return sha256_hex("\0".join(str(p) for p in parts).encode())


def render_sarif(reports: Reports, *, base: Path | None = None) -> str:
    """SARIF 2.1.0: one run; a rule per requirement ID (its remediation is the help text);
    a result per violation, located at the file and line of the object's document."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []

    def rule(rule_id: str, remediation: str) -> int:
        if rule_id not in rules:
            family = rule_id.split(".", 1)[0]
            help_text = remediation or "See the requirement matrix (policies/gatekeeper/matrix/requirements.yaml)."
            rules[rule_id] = {
                "id": rule_id,
                "name": _rule_name(rule_id),
                "shortDescription": {"text": f"Model Gatekeeper requirement {rule_id}"},
                "fullDescription": {"text": help_text},
                "help": {"text": help_text, "markdown": f"**{rule_id}**\n\n{help_text}"},
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": ["model-governance", family]},
            }
        return list(rules).index(rule_id)  # the matrix gives one remediation per requirement

    for environment, report in reports.items():
        for decision in report.results:
            where = _location(decision.source, base)
            subject = f"{decision.object.display()} in {environment}"
            if decision.error:
                index = rule(EVALUATION_ERROR_RULE, "Make the failing component (OPA, the evidence source) reachable and run the check again.")
                results.append({
                    "ruleId": EVALUATION_ERROR_RULE, "ruleIndex": index, "level": "error" if not decision.allowed else "warning",
                    "message": {"text": f"{subject}: the gate could not evaluate: {decision.error}"},
                    "locations": where,
                    "partialFingerprints": {"gatekeeperDecision/v1": _fingerprint(environment, decision.object.display(), EVALUATION_ERROR_RULE)},
                    "properties": {"environment": environment, "object": decision.object.display()},
                })
            for violation in decision.violations:
                index = rule(violation.requirement, violation.remediation)
                text = f"{who(violation).strip() or decision.object.display()}: {violation.message}"
                if violation.observed is not None or violation.threshold is not None:
                    text += f" (observed {observed_text(violation.observed)}, threshold {observed_text(violation.threshold)})"
                results.append({
                    "ruleId": violation.requirement, "ruleIndex": index, "level": severity(decision),
                    "message": {"text": f"{text} [{subject}, enforcement {decision.enforcement}]"},
                    "locations": where,
                    "partialFingerprints": {"gatekeeperViolation/v1": _fingerprint(
                        environment, decision.object.display(), violation.requirement, violation.model, violation.version)},
                    "properties": {
                        "environment": environment, "object": decision.object.display(), "model": violation.model,
                        "version": violation.version, "enforcement": decision.enforcement, "allowed": decision.allowed,
                        "observed": violation.observed, "threshold": violation.threshold,
                    },
                })
            for waived in decision.waived:
                index = rule(waived.requirement, waived.remediation)
                results.append({
                    "ruleId": waived.requirement, "ruleIndex": index, "level": "note",
                    "message": {"text": f"{who(waived).strip()}: {waived.message} [{subject}, waived]"},
                    "locations": where,
                    "suppressions": [{"kind": "external", "status": "accepted",
                                      "justification": waived.waiver_reason or f"waiver {waived.waiver}"}],
                    "partialFingerprints": {"gatekeeperViolation/v1": _fingerprint(
                        environment, decision.object.display(), waived.requirement, waived.model, waived.version)},
                    "properties": {"environment": environment, "object": decision.object.display(),
                                   "waiver": waived.waiver, "waiver_expires_at": waived.waiver_expires_at},
                })

    base_dir = (base or Path.cwd()).resolve()
    document = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME, "version": __version__, "semanticVersion": __version__,
                "informationUri": TOOL_URI, "rules": list(rules.values()),
            }},
            "automationDetails": {"id": f"{TOOL_NAME}/{'+'.join(reports)}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": base_dir.as_uri() + "/"}},
            "results": results,
            "properties": {"environments": {env: {"allowed": r.allowed, "checked": len(r.results),
                                                  "skipped": len(r.skipped)} for env, r in reports.items()}},
        }],
    }
    return json.dumps(document, indent=2)
