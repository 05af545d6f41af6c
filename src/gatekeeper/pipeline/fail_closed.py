"""The gate's own decisions when a component failed (README "The webhook"): never admit on error.

OPA did not decide, or the decision log could not record an admission: where the
environment enforces, the object is denied naming the failing component; in `warn` and
`dryrun` environments it is admitted with a warning that the policy was not enforced.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from gatekeeper.types.decision import Decision, DecidedModel, Enforcement, ObjectRef, SourceLocation

_PACKAGE = "gatekeeper."


def fail_closed(
    obj: ObjectRef, models: Iterable[DecidedModel], environment: str, enforcement: Enforcement, failure: str, *,
    operation: str | None, policy_revision: str, source: SourceLocation | None, decision_id: str | None = None,
) -> Decision:
    """The decision for `obj` when `failure` kept OPA's from counting."""
    enforced = enforcement == "deny"
    return Decision(
        object=obj, environment=environment, operation=operation,
        allowed=not enforced, enforcement=enforcement,
        models=list(models),
        warnings=[] if enforced else [f"policy not enforced: {failure}"],
        policy_revision=policy_revision, decision_id=decision_id or uuid.uuid4().hex,
        error=failure, source=source,
    )


def component_of(exc: BaseException) -> str:
    """The project module an unexpected exception was raised in, or passed through last
    (a library's error is named by the module that called it): `pipeline.object_paths`."""
    component = "webhook"
    frame = exc.__traceback__
    while frame is not None:
        module = str(frame.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(_PACKAGE):
            component = module.removeprefix(_PACKAGE)
        frame = frame.tb_next
    return component


def unrecorded(decision: Decision, enforcement: Enforcement, failure: str) -> Decision:
    """An admission the decision log could not record, answered as that failure (same
    decision ID, so the answer names the record that is missing). Denials stand as they are."""
    if not decision.allowed:
        return decision
    models = (DecidedModel(ref=m.ref, name=m.name, version=m.version) for m in decision.models)
    return fail_closed(decision.object, models, decision.environment, enforcement, failure,
                       operation=decision.operation, policy_revision=decision.policy_revision,
                       source=decision.source, decision_id=decision.decision_id)
