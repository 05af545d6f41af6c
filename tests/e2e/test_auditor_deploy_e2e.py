"""deploy/overlays/auditor against the real API server: its objects are accepted (server
dry run, strict field validation), and its RBAC is enough for a whole audit cycle: the
auditor runs as its ServiceAccount (impersonated), elects itself, lists, writes reports."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from gatekeeper.auditor.client import Cluster, Leases
from gatekeeper.auditor.lease import Elector
from gatekeeper.auditor.rejudge import Auditor
from gatekeeper.config import Settings
from gatekeeper.pipeline.assemble import open_gate

from ..conftest import EVIDENCE
from .conftest import GATE_NAMESPACE, load_manifest, render
from .kube import Kube, with_namespace
from .test_deploy_dry_run_e2e import FIELD_MANAGER, check_all, ensure_gate_namespace

pytestmark = pytest.mark.e2e

SERVICE_ACCOUNT = f"system:serviceaccount:{GATE_NAMESPACE}:model-gatekeeper-auditor"
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def auditor_objects(deploy_dir) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [o for o in render(deploy_dir, "overlays/auditor")
            if o["kind"] == "Namespace" or "auditor" in o["metadata"]["name"]]


def test_the_auditor_overlay_is_accepted_and_its_rbac_suffices(kube: Kube, control_plane, deploy_dir) -> None:
    objects = auditor_objects(deploy_dir)
    assert {o["kind"] for o in objects} >= RBAC_KINDS | {"Deployment", "NetworkPolicy"}
    dynamic = DynamicClient(kube.api_client)
    ensure_gate_namespace(dynamic, objects)
    problems = check_all(dynamic, [o for o in objects if o["kind"] != "Namespace"])
    assert problems == {}, problems

    for obj in objects:
        if obj["kind"] in RBAC_KINDS:
            resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
            dynamic.server_side_apply(resource, body=obj, namespace=obj["metadata"].get("namespace"),
                                      field_manager=FIELD_MANAGER)
    kube.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": "rbac-checked", "labels": {"model-gatekeeper.io/environment": "staging"}}})
    kube.create(with_namespace(load_manifest("compliant/credit-scoring-inferenceservice.yaml"), "rbac-checked"))

    def cycle_as(user: str) -> Any:
        """One cycle with the admin client impersonating `user`."""
        impersonating = client.ApiClient(kube.api_client.configuration)
        impersonating.set_default_header("Impersonate-User", user)

        async def cycle() -> Any:
            async with open_gate(Settings(evidence_dir=EVIDENCE)) as gate:
                cluster = Cluster(impersonating)
                elector = Elector(Leases(cluster), GATE_NAMESPACE, "rbac-check", name="rbac-check")
                auditor = Auditor(gate, cluster, elector=elector)
                try:
                    return await auditor.cycle()
                finally:
                    auditor.close()
                    cluster.close()

        try:
            return asyncio.run(cycle())
        finally:
            impersonating.close()

    # the control: an identity without the auditor's RBAC gets nowhere (impersonation works)
    refused = cycle_as("system:serviceaccount:default:nobody")
    assert not refused.leader and "HTTP 403" in refused.failure, refused.failure

    result = cycle_as(SERVICE_ACCOUNT)
    assert result.leader and result.failure == "", result.failure
    assert result.judged.get("rbac-checked/InferenceService/credit-scoring") == "new"
