"""deploy/overlays/console against the real API server: its objects are accepted (server
dry run, strict field validation), and the console's ServiceAccount can read what the
console shows (namespaces, every gated kind, PolicyReports) and write nothing, asked of the
API server's own authorizer (SubjectAccessReview) and proven with impersonated requests."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from gatekeeper.cli.serve import inventory_reader
from gatekeeper.console.queries import InventoryUnavailable

from .conftest import GATE_NAMESPACE, PRODUCTION, load_manifest, render
from .kube import Kube, with_namespace
from .test_deploy_dry_run_e2e import FIELD_MANAGER, check_all, ensure_gate_namespace

pytestmark = pytest.mark.e2e

CONSOLE = "model-gatekeeper-console"
SERVICE_ACCOUNT = f"system:serviceaccount:{GATE_NAMESPACE}:{CONSOLE}"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding"}
WRITES = ("create", "update", "patch", "delete", "deletecollection")


@pytest.fixture(scope="module")
def console_objects(kube: Kube, deploy_dir) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The overlay's console objects, its RBAC applied for real."""
    objects = [o for o in render(deploy_dir, "overlays/console")
               if o["kind"] == "Namespace" or o["metadata"]["name"] == CONSOLE]
    dynamic = DynamicClient(kube.api_client)
    ensure_gate_namespace(dynamic, objects)
    for obj in objects:
        if obj["kind"] in RBAC_KINDS:
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                                      field_manager=FIELD_MANAGER)
    return objects


def allowed(kube: Kube, user: str, group: str, resource: str, verb: str, namespace: str = "") -> bool:
    review = client.AuthorizationV1Api(kube.api_client).create_subject_access_review({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{GATE_NAMESPACE}",
                                          "system:authenticated"],
                 "resourceAttributes": {"group": group, "resource": resource, "verb": verb, "namespace": namespace}}})
    return bool(review.status.allowed)


def readable(console_objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    [role] = [o for o in console_objects if o["kind"] == "ClusterRole"]
    return {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}


def test_the_console_overlay_is_accepted(kube: Kube, console_objects) -> None:  # type: ignore[no-untyped-def]
    assert {o["kind"] for o in console_objects} >= RBAC_KINDS | {"Deployment", "Service", "NetworkPolicy"}
    problems = check_all(DynamicClient(kube.api_client), [o for o in console_objects if o["kind"] != "Namespace"])
    assert problems == {}, problems


def test_the_console_can_read_what_it_shows_and_write_nothing(kube: Kube, console_objects) -> None:  # type: ignore[no-untyped-def]
    reads = readable(console_objects)
    assert {("", "namespaces"), ("wgpolicyk8s.io", "policyreports"), ("apps", "deployments"),
            ("serving.kserve.io", "inferenceservices")} <= reads
    # the control: an identity the overlay grants nothing is refused (the authorizer is on)
    assert not allowed(kube, f"system:serviceaccount:{GATE_NAMESPACE}:nobody", "", "namespaces", "list")
    refused_reads = sorted((g, r, v) for g, r in reads for v in ("get", "list", "watch")
                           if not allowed(kube, SERVICE_ACCOUNT, g, r, v, PRODUCTION))
    assert refused_reads == []
    granted_writes = sorted((g, r, v) for g, r in reads | {("", "events"), ("coordination.k8s.io", "leases")}
                            for v in WRITES if allowed(kube, SERVICE_ACCOUNT, g, r, v, PRODUCTION))
    assert granted_writes == []
    for group, resource, verb in (("", "secrets", "get"), ("", "secrets", "list"), ("", "configmaps", "get"),
                                  ("", "pods", "create"), ("", "serviceaccounts", "impersonate"),
                                  ("rbac.authorization.k8s.io", "clusterroles", "escalate"),
                                  ("rbac.authorization.k8s.io", "clusterrolebindings", "create")):
        assert not allowed(kube, SERVICE_ACCOUNT, group, resource, verb, GATE_NAMESPACE), (group, resource, verb)


def test_impersonated_as_the_console_reads_succeed_and_writes_are_forbidden(kube: Kube, console_objects) -> None:  # type: ignore[no-untyped-def]
    model = with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), PRODUCTION,
                           "console-rbac-probe")
    impersonating = client.ApiClient(kube.api_client.configuration)
    impersonating.set_default_header("Impersonate-User", SERVICE_ACCOUNT)
    try:
        as_console = Kube(impersonating)
        core = client.CoreV1Api(impersonating)
        custom = client.CustomObjectsApi(impersonating)
        assert PRODUCTION in {n.metadata.name for n in core.list_namespace().items}
        custom.list_cluster_custom_object("wgpolicyk8s.io", "v1alpha2", "policyreports")
        custom.list_cluster_custom_object("serving.kserve.io", "v1beta1", "inferenceservices")
        client.AppsV1Api(impersonating).list_deployment_for_all_namespaces()
        for write in (lambda: as_console.create(model),
                      lambda: core.patch_namespace(PRODUCTION, {"metadata": {"labels": {
                          "model-gatekeeper.io/environment": "development"}}}),
                      lambda: custom.create_namespaced_custom_object("wgpolicyk8s.io", "v1alpha2", PRODUCTION,
                                                                     "policyreports", {
                          "apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
                          "metadata": {"name": "forged"}, "results": []}),
                      lambda: core.list_namespaced_secret(GATE_NAMESPACE)):
            with pytest.raises(ApiException) as refused:
                write()
            assert refused.value.status == 403, refused.value.body
    finally:
        impersonating.close()
    assert kube.get("InferenceService", PRODUCTION, "console-rbac-probe") is None


def test_the_consoles_own_inventory_read_works_as_its_service_account(kube: Kube, console_objects) -> None:  # type: ignore[no-untyped-def]
    """What `gatekeeper console` reads the cluster with (the reader cli/console.py builds),
    impersonating the overlay's ServiceAccount; the control, an identity without it, fails."""

    def rows_as(user: str) -> list[dict[str, Any]]:
        impersonating = client.ApiClient(kube.api_client.configuration)
        impersonating.set_default_header("Impersonate-User", user)
        try:
            reader = inventory_reader(impersonating, InventoryUnavailable)
            assert reader is not None
            return asyncio.run(reader(None))
        finally:
            impersonating.close()

    with pytest.raises(InventoryUnavailable, match="403"):
        rows_as(f"system:serviceaccount:{GATE_NAMESPACE}:nobody")
    assert isinstance(rows_as(SERVICE_ACCOUNT), list)
