"""deploy/ holds objects a real API server accepts (issue 6, item 4).

`kustomize build deploy/base` is applied object by object with a server-side apply dry run
(`kubectl apply --server-side --dry-run=server` does the same), with strict field validation,
so an unknown or misspelt field, a bad CEL matchCondition, an invalid selector or a pod
template that Pod Security "restricted" would refuse (a warning for workloads) all show.
The gate's namespace is created for real first, as the README's quick start does.

The cert-manager overlay is checked the same way after installing cert-manager's own CRDs
(the cert-manager.io_*.yaml of the pinned github.com/cert-manager/cert-manager module,
cached by scripts/build-kube.sh), so its Issuers and Certificates meet the real schemas
and CEL rules. cert-manager itself does not run: nothing issues or injects anything.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError

from .conftest import GATE_NAMESPACE, render
from .kube import parse_warnings

pytestmark = pytest.mark.e2e

FIELD_MANAGER = "gatekeeper-e2e"


def server_dry_run(dynamic: DynamicClient, obj: dict[str, Any]) -> list[str]:
    """Server-side apply with dryRun=All and fieldValidation=Strict; the warnings it got."""
    resource = dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
    response = dynamic.server_side_apply(
        resource, body=obj, namespace=obj["metadata"].get("namespace"), field_manager=FIELD_MANAGER,
        dry_run="All", query_params=[("fieldValidation", "Strict")], serialize=False,
    )
    return parse_warnings(response.headers)


def ensure_gate_namespace(dynamic: DynamicClient, objects: list[dict[str, Any]]) -> None:
    [namespace] = [o for o in objects if o["kind"] == "Namespace"]
    assert namespace["metadata"]["name"] == GATE_NAMESPACE
    resource = dynamic.resources.get(api_version="v1", kind="Namespace")
    dynamic.server_side_apply(resource, body=namespace, field_manager=FIELD_MANAGER)


def check_all(dynamic: DynamicClient, objects: list[dict[str, Any]]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for obj in objects:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            warnings = server_dry_run(dynamic, obj)
        except DynamicApiError as exc:
            problems[where] = [f"HTTP {exc.status}: {exc.summary()}"]
            continue
        if warnings:
            problems[where] = warnings
    return problems


@pytest.fixture(scope="module")
def dynamic(api_client: client.ApiClient) -> DynamicClient:
    return DynamicClient(api_client)


def test_deploy_base_is_accepted_by_the_api_server(dynamic: DynamicClient, deploy_base: list[dict[str, Any]]):
    ensure_gate_namespace(dynamic, deploy_base)
    kinds = sorted({o["kind"] for o in deploy_base})
    assert {"Deployment", "ValidatingWebhookConfiguration", "NetworkPolicy", "PodDisruptionBudget",
            "ConfigMap", "ClusterRole", "ClusterRoleBinding", "Service", "ServiceAccount"} <= set(kinds), kinds

    problems = check_all(dynamic, deploy_base)

    assert problems == {}, "the API server refused or warned about deploy/base objects:\n" + "\n".join(
        f"  {where}: {'; '.join(msgs)}" for where, msgs in problems.items())


def test_cert_manager_overlay_is_accepted_with_cert_manager_crds(dynamic: DynamicClient, deploy_dir,
                                                                  cert_manager_crds: list[str]):
    overlay = render(deploy_dir, "overlays/cert-manager")
    ensure_gate_namespace(dynamic, overlay)
    cert_manager = {(o["kind"], o["metadata"]["name"]) for o in overlay if o["apiVersion"].startswith("cert-manager.io/")}
    assert {("Issuer", "model-gatekeeper-selfsigned"), ("Certificate", "model-gatekeeper-ca"),
            ("Issuer", "model-gatekeeper-ca"), ("Certificate", "model-gatekeeper")} <= cert_manager, cert_manager
    [vwc] = [o for o in overlay if o["kind"] == "ValidatingWebhookConfiguration"]
    assert vwc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{GATE_NAMESPACE}/model-gatekeeper"

    # a fresh discovery: the cert-manager.io group was installed after the module's client was made
    problems = check_all(DynamicClient(dynamic.client), overlay)

    assert problems == {}, "the API server refused or warned about deploy/overlays/cert-manager objects:\n" + \
        "\n".join(f"  {where}: {'; '.join(msgs)}" for where, msgs in problems.items())
