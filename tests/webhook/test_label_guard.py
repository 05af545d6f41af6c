"""The environment-label guard holds whatever path the review arrives at and whatever the
namespace's own environment enforces (README "The environment label"): it protects the
governance itself."""

import pytest

from .test_serving_admission import LABEL, answer, namespace

PATHS = ["/validate", "/validate/production", "/validate/staging", "/validate/development"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("old, new, verb", [("production", "staging", "change"), ("staging", None, "remove"),
                                            ("staging", "development", "change"), (None, "development", "set")])
def test_an_unnamed_identity_is_denied_on_every_path(gate, path, old, new, verb):
    labels = (lambda value: {LABEL: value} if value else {})
    denied = answer(gate, namespace(labels(new)), path, operation="UPDATE" if old else "CREATE",
                    old=namespace(labels(old)) if old else None)
    assert denied["allowed"] is False, denied
    message = denied["status"]["message"]
    assert message.splitlines()[1] == (f"[namespace.environment_label] user alice@example.com may not {verb} the "
                                       f"namespace label {LABEL} ({old or 'null'} -> {new or 'null'}); allowed: "
                                       "group system:masters, group model-gatekeeper:platform-admins")


@pytest.mark.parametrize("path", PATHS)
def test_a_named_identity_passes_on_every_path(gate, path):
    moved = answer(gate, namespace({LABEL: "staging"}), path, operation="UPDATE", old=namespace({LABEL: "production"}),
                   user="erin", groups=("model-gatekeeper:platform-admins",))
    assert moved["allowed"] is True and "status" not in moved
