"""A decision record as an OCSF event, for a SIEM (`gatekeeper audit export --format ocsf`).

Class API Activity (6003, category Application Activity): an admission review is an API
call (CREATE/UPDATE/DELETE of an object, by a user, through the Kubernetes API) that the
gate allowed or refused, which is what that class describes; Kubernetes audit events are
mapped to it too. What OCSF has no attribute for (environment, models, violations, policy
revision, evidence digest) travels in `unmapped`, and `metadata.uid` is the decision ID so
an event leads back to the record and its proof.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

OCSF_VERSION = "1.3.0"
CLASS_UID, CATEGORY_UID = 6003, 6
ACTIVITIES = {"CREATE": (1, "Create"), "UPDATE": (3, "Update"), "DELETE": (4, "Delete")}
# admitted/warned: the call went ahead; denied/error: it was refused (or failed closed).
STATUS = {"admitted": (1, "Success"), "warned": (1, "Success"), "denied": (2, "Failure"), "error": (2, "Failure")}
SEVERITY = {"admitted": (1, "Informational"), "warned": (2, "Low"), "denied": (3, "Medium"), "error": (4, "High")}
UNMAPPED = ("environment", "models", "violations", "waived", "warnings", "policy_revision", "evidence_digest",
            "enforcement", "dry_run", "reason", "error", "source", "seq")


def event(content: dict[str, Any]) -> dict[str, Any]:
    activity_id, activity = ACTIVITIES.get(str(content.get("operation")), (99, "Other"))
    outcome = content.get("outcome", "error")
    status_id, status = STATUS.get(outcome, (99, "Other"))
    severity_id, severity = SEVERITY.get(outcome, (99, "Other"))
    obj = content.get("object") or {}
    messages = [v.get("message", "") for v in content.get("violations") or []] or content.get("warnings") or []
    resource = {"type": obj.get("kind"), "name": obj.get("name"),
                "group": {"name": obj.get("namespace")} if obj.get("namespace") else None,
                "data": {"apiVersion": obj.get("apiVersion")}}
    return {
        "class_uid": CLASS_UID, "class_name": "API Activity",
        "category_uid": CATEGORY_UID, "category_name": "Application Activity",
        "activity_id": activity_id, "activity_name": activity, "type_uid": CLASS_UID * 100 + activity_id,
        "time": int(datetime.fromisoformat(content["time"]).timestamp() * 1000),
        "status_id": status_id, "status": status, "status_detail": outcome,
        "severity_id": severity_id, "severity": severity,
        "message": "; ".join(messages) if messages else f"{outcome}: {obj.get('kind')} {obj.get('name')}",
        "actor": {"user": {"name": content.get("user")}},
        "api": {"operation": content.get("operation"), "service": {"name": "model-gatekeeper"},
                "request": {"uid": content.get("request_uid")}},
        "src_endpoint": {"name": content.get("source")},
        "resources": [{k: v for k, v in resource.items() if v is not None}],
        "metadata": {"version": OCSF_VERSION, "uid": content.get("decision_id"), "log_name": "decision log",
                     "product": {"name": "Model Gatekeeper", "vendor_name": "Model Gatekeeper"}},
        "unmapped": {k: content.get(k) for k in UNMAPPED if k in content},
    }
