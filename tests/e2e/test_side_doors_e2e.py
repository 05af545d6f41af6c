"""The side doors of issue 27, tried as deployed: a real kube-apiserver with deploy/'s rendered
ValidatingWebhookConfiguration calling the real gate.

- A user who may write only a Namespace's `status` or `finalize` subresource cannot remove or
  change its environment label, and the attempt is on record, naming the subresource.
- An object nested ~990 levels deep is unreadable past the depth the gate reads: denied in
  production, admitted with a warning in staging, recorded in both.
- A terminating object whose model annotation changes is judged (`not-finalizing` skips only
  a finalizer's removal).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from gatekeeper.pipeline.object_paths import MAX_DEPTH

from .conftest import PRODUCTION, STAGING, load_manifest
from .kube import Kube, requirement_ids, status_message, wait_for, with_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("webhook")]

LABEL = "model-gatekeeper.io/environment"
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture
def only_subresource(kube: Kube, api_client: client.ApiClient) -> Iterator[Any]:
    """A user whose RBAC allows writing one subresource of namespaces and nothing else."""
    rbac = client.RbacAuthorizationV1Api(kube.api_client)
    made: list[tuple[str, client.ApiClient]] = []

    def user(name: str, subresource: str, verbs: list[str]) -> client.CoreV1Api:
        role = f"e2e-namespaces-{subresource}"
        rbac.create_cluster_role({"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": role},
                                  "rules": [{"apiGroups": [""], "resources": [f"namespaces/{subresource}"],
                                             "verbs": verbs}]})
        rbac.create_cluster_role_binding({
            "apiVersion": f"{RBAC}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": role},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": name, "apiGroup": RBAC}]})
        impersonating = client.ApiClient(api_client.configuration)
        impersonating.set_default_header("Impersonate-User", name)
        made.append((role, impersonating))
        return client.CoreV1Api(impersonating)

    try:
        yield user
    finally:
        for role, impersonating in made:
            rbac.delete_cluster_role_binding(role)
            rbac.delete_cluster_role(role)
            impersonating.close()


def labelled(admin: client.CoreV1Api, name: str, environment: str) -> None:
    admin.create_namespace({"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": name, "labels": {LABEL: environment}}})


def refused_as_the_label_guard(kube: Kube, write: Any, user: str) -> None:
    exc = kube.rejected(write)
    assert exc.status == 403, exc.body
    message = status_message(exc)
    assert 'admission webhook "environment-label.validate.model-gatekeeper.io" denied the request' in message
    assert requirement_ids(message) == {"namespace.environment_label"}, message
    assert f"user {user} may not" in message


def test_a_user_with_only_namespaces_status_cannot_remove_or_change_the_label(kube: Kube, only_subresource, audit):
    admin = client.CoreV1Api(kube.api_client)
    sam = only_subresource("sam", "status", ["get", "update", "patch"])
    labelled(admin, "side-status", "production")
    refused_as_the_label_guard(kube, lambda: sam.patch_namespace_status(
        "side-status", {"metadata": {"labels": {LABEL: None}}}), "sam")
    current = admin.read_namespace("side-status")
    current.metadata.labels[LABEL] = "development"
    refused_as_the_label_guard(kube, lambda: sam.replace_namespace_status("side-status", current), "sam")
    assert admin.read_namespace("side-status").metadata.labels[LABEL] == "production"
    # what the subresource is for still works
    sam.patch_namespace_status("side-status", {"metadata": {"labels": {"team": "lending"}}})

    attempts = [(r["operation"], r["subresource"], r["outcome"]) for r in audit(name="side-status") if r["user"] == "sam"]
    assert attempts == [("UPDATE", "status", "denied")] * 2, attempts


def test_a_user_with_only_namespaces_finalize_cannot_remove_or_change_the_label(kube: Kube, only_subresource, audit):
    admin = client.CoreV1Api(kube.api_client)
    fin = only_subresource("fin", "finalize", ["update"])
    labelled(admin, "side-finalize", "staging")
    for value in (None, "development"):
        namespace = admin.read_namespace("side-finalize")  # finalize is a PUT of the whole Namespace
        if value is None:
            del namespace.metadata.labels[LABEL]
        else:
            namespace.metadata.labels[LABEL] = value
        refused_as_the_label_guard(kube, lambda namespace=namespace: fin.replace_namespace_finalize(
            "side-finalize", namespace), "fin")
    assert admin.read_namespace("side-finalize").metadata.labels[LABEL] == "staging"

    attempts = [(r["subresource"], r["outcome"], r["environment"]) for r in audit(name="side-finalize")
                if r["user"] == "fin"]
    # judged as the guard judges every label change: enforced, whatever the namespace's environment
    assert attempts == [("finalize", "denied", "production")] * 2, attempts


LEVELS = 990


def nested(name: str, namespace: str) -> dict[str, Any]:
    obj = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), namespace, name)
    deepest: dict[str, Any] = {}
    extra = deepest
    for _ in range(LEVELS - 1):
        extra["x"] = {}
        extra = extra["x"]
    obj["spec"]["predictor"]["extra"] = deepest
    return obj


@pytest.fixture
def deep_client() -> Iterator[None]:
    """The Python client serializes objects recursively: room for LEVELS levels (the gate's own
    walk has no such need any more, which is what is tested)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5 * LEVELS))
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.usefixtures("deep_client")
def test_an_object_nested_990_levels_is_unreadable_answered_per_enforcement_and_recorded(kube: Kube, audit):
    unreadable = f"nested over {MAX_DEPTH} levels deep, unreadable"
    exc = kube.rejected(lambda: kube.create(nested("deep", PRODUCTION)))
    assert exc.status == 403, exc.body
    message = status_message(exc)
    assert 'admission webhook "production.validate.model-gatekeeper.io" denied the request' in message
    assert requirement_ids(message) == {"evidence.model_reference"} and unreadable in message, message

    written = kube.create(nested("deep", STAGING))
    try:
        assert any(w.startswith("[evidence.model_reference] @: spec.predictor.extra") and "nested over" in w
                   for w in written.warnings), written.warnings
    finally:
        kube.delete("InferenceService", STAGING, "deep")
    outcomes = {(r["object"]["namespace"], r["operation"]): (r["outcome"], [v["requirement"] for v in r["violations"]])
                for r in audit(name="deep")}
    assert outcomes[(PRODUCTION, "CREATE")] == ("denied", ["evidence.model_reference"])
    assert outcomes[(STAGING, "CREATE")] == ("warned", ["evidence.model_reference"])


def test_a_terminating_objects_model_annotation_change_is_judged(kube: Kube, audit):
    held = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), PRODUCTION, "held")
    held["metadata"]["finalizers"] = ["e2e.model-gatekeeper.io/hold"]
    kube.create(held)
    kube.delete("InferenceService", PRODUCTION, "held")
    terminating = wait_for("the deletion timestamp", lambda: (kube.get("InferenceService", PRODUCTION, "held") or {})
                           .get("metadata", {}).get("deletionTimestamp") and kube.get("InferenceService", PRODUCTION, "held"))

    # a new model named on the object while it lingers (the auditor and the inventory read it)
    changed = copy.deepcopy(terminating)
    changed["metadata"]["annotations"]["model-gatekeeper.io/model"] = "models:/credit-scoring/4"
    exc = kube.rejected(lambda: kube.replace(changed))
    assert exc.status == 403, exc.body
    assert "credit-scoring@4" in status_message(exc) and "fairness." in status_message(exc)
    kept = kube.get("InferenceService", PRODUCTION, "held")
    assert kept["metadata"]["annotations"]["model-gatekeeper.io/model"] == "models:/credit-scoring/3"

    # the finalizer's removal (spec and model annotations unchanged) is still not sent: deleted
    released = copy.deepcopy(kept)
    released["metadata"]["finalizers"] = []
    kube.replace(released)
    wait_for("the object to go", lambda: kube.get("InferenceService", PRODUCTION, "held") is None)
    updates = [(r["outcome"], [m["version"] for m in r["models"]]) for r in audit(name="held", namespace=PRODUCTION)
               if r["operation"] == "UPDATE"]
    assert updates == [("denied", ["4"])], updates
