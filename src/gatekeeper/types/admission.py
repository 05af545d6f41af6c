"""AdmissionReview `admission.k8s.io/v1`, typed: what the API server sends and gets back."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gatekeeper.types.decision import Decision, Violation

API_VERSION = "admission.k8s.io/v1"
DECISION_ID_ANNOTATION = "model-gatekeeper.io/decision-id"
MAX_WARNING_LENGTH = 120  # Kubernetes advises short warnings; kubectl prints each on one line


class GroupVersionKind(BaseModel):
    group: str = ""
    version: str = ""
    kind: str = ""


class UserInfo(BaseModel):
    username: str | None = None
    uid: str | None = None
    groups: list[str] = []


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    uid: str = Field(min_length=1)
    kind: GroupVersionKind = GroupVersionKind()
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]
    namespace: str | None = None
    name: str | None = None
    # A subresource's name (`status`, `finalize`, `ephemeralcontainers`); None for the object itself.
    sub_resource: str | None = Field(None, alias="subResource")
    user_info: UserInfo = Field(UserInfo(), alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(None, alias="oldObject")
    dry_run: bool = Field(False, alias="dryRun")


class AdmissionReview(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    api_version: str = Field(alias="apiVersion")
    kind: Literal["AdmissionReview"]
    request: AdmissionRequest


class Status(BaseModel):
    code: int
    message: str
    reason: str = "Forbidden"


class AdmissionResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    uid: str
    allowed: bool
    status: Status | None = None
    warnings: list[str] | None = None
    audit_annotations: dict[str, str] | None = Field(None, alias="auditAnnotations")


class AdmissionReviewResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    api_version: str = Field(API_VERSION, alias="apiVersion")
    kind: Literal["AdmissionReview"] = "AdmissionReview"
    response: AdmissionResponse


# A location path in a violation line (`spec.predictor.containers[0].env.STORAGE_URI`;
# every path the gate reports starts at `spec`), and the component named beside it.
_PATH = re.compile(r"\bspec(?:\.[^\s.\[\]()]+|\[\d+\])+")
_COMPONENT = re.compile(r" \(component [^)]*\)")


def _short(line: str) -> str:
    """A warning as the API server passes it on: ASCII only (HTTP clients decode Warning
    headers as latin-1; anything else is escaped, `\\xe9`) and at most 120 characters.
    A line too long first loses the middle of its longest location path (its last field
    stays), then the component named beside it, and only then its end: the requirement,
    the model and what is loaded stay readable."""
    line = line.encode("ascii", "backslashreplace").decode("ascii")
    if len(line) > MAX_WARNING_LENGTH and (paths := list(_PATH.finditer(line))):
        path = max(paths, key=lambda match: len(match.group()))
        text = path.group()
        last = text[text.rfind(".") + 1:]
        front = max(len(text) - (len(line) - MAX_WARNING_LENGTH) - 3 - len(last), len("spec"))
        if front + 3 + len(last) < len(text):
            line = f"{line[:path.start()]}{text[:front]}...{last}{line[path.end():]}"
    if len(line) > MAX_WARNING_LENGTH:
        line = _COMPONENT.sub("", line, count=1)
    return line if len(line) <= MAX_WARNING_LENGTH else line[: MAX_WARNING_LENGTH - 3] + "..."


def allow(uid: str, warnings: list[str] | None = None, decision_id: str | None = None) -> AdmissionReviewResponse:
    return AdmissionReviewResponse(response=AdmissionResponse(
        uid=uid, allowed=True, warnings=[_short(w) for w in warnings] if warnings else None,
        auditAnnotations={DECISION_ID_ANNOTATION: decision_id} if decision_id else None,
    ))


def deny(uid: str, message: str, decision_id: str | None = None, warnings: list[str] | None = None) -> AdmissionReviewResponse:
    return AdmissionReviewResponse(response=AdmissionResponse(
        uid=uid, allowed=False, status=Status(code=403, message=message),
        warnings=[_short(w) for w in warnings] if warnings else None,
        auditAnnotations={DECISION_ID_ANNOTATION: decision_id} if decision_id else None,
    ))


def _cited(violation: Violation) -> str:
    """A violation's line with the references it serves as a short suffix
    (`... below 0.80 [EU AI Act Art. 10]`)."""
    return f"{violation.line} [{violation.citation}]" if violation.citation else violation.line


def from_decision(uid: str, decision: Decision) -> AdmissionReviewResponse:
    """Denied: every violation on its own line in status.message; warn: the same lines as warnings."""
    if decision.allowed:
        return allow(uid, decision.warnings, decision.decision_id)
    if decision.error:
        lines = [f"model-gatekeeper could not evaluate the policy, so it denies (fail closed): {decision.error}"]
    else:
        lines = [f"model-gatekeeper denied {decision.object.display()} in {decision.environment}:"]
        lines += [_cited(violation) for violation in decision.violations]
    return deny(uid, "\n".join(lines), decision.decision_id, decision.warnings)
