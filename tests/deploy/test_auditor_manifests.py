"""deploy/overlays/auditor: the base plus the background auditor (components/auditor),
rendered by the real kustomize."""

from __future__ import annotations

from typing import Any

import pytest

from .test_manifests import NAMESPACE, build, command_line, find, kustomize, one, serving_table  # noqa: F401


@pytest.fixture(scope="module")
def auditor(kustomize: str) -> list[dict[str, Any]]:  # noqa: F811
    return build(kustomize, "overlays/auditor")


def auditor_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", "model-gatekeeper-auditor")["spec"]["template"]["spec"]


def test_the_base_has_no_auditor(kustomize: str) -> None:  # noqa: F811
    base = build(kustomize, "base")
    assert not find(base, "Deployment", "model-gatekeeper-auditor")


def test_runs_gatekeeper_monitor_with_its_own_opa_and_the_webhooks_policies(auditor) -> None:
    spec = auditor_spec(auditor)
    assert spec["serviceAccountName"] == "model-gatekeeper-auditor"
    containers = {c["name"]: c for c in spec["containers"]}
    line = command_line(containers["auditor"])
    assert line[:2] == ["gatekeeper", "monitor"]
    options = dict(zip(line[2::2], line[3::2]))
    assert options["--opa-url"] == "http://127.0.0.1:8181" and options["--audit-db"] == "$(GATEKEEPER_AUDIT_DB)"
    env = {e["name"]: e for e in containers["auditor"]["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    volumes = {v["name"]: v for v in spec["volumes"]}
    webhook = one(auditor, "Deployment", "model-gatekeeper")["spec"]["template"]["spec"]
    webhook_policies = {v["name"]: v for v in webhook["volumes"]}["policies"]["configMap"]["name"]
    assert volumes["policies"]["configMap"]["name"] == webhook_policies
    # the same folder tree under /policies (OPA places data by folder): the same items
    webhook_items = {v["name"]: v for v in webhook["volumes"]}["policies"]["configMap"]["items"]
    assert webhook_items and volumes["policies"]["configMap"].get("items") == webhook_items
    for c in spec["containers"]:
        assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsNonRoot"] is True
    assert one(auditor, "Deployment", "model-gatekeeper-auditor")["spec"]["replicas"] == 2


def rules(auditor: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    role = one(auditor, "ClusterRole", "model-gatekeeper-auditor")
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_rbac_lists_and_watches_every_gated_kind_and_nothing_more(auditor, serving_table) -> None:  # noqa: F811
    granted = rules(auditor)
    gated = {(row["group"], row["resource"]) for row in serving_table["kinds"]}
    assert {(g, r, v) for g, r in gated for v in ("list", "watch")} <= granted
    reads = {(g, r) for g, r, v in granted if v in ("list", "watch", "get")}
    assert reads == gated | {("", "namespaces"), ("wgpolicyk8s.io", "policyreports")}
    writes = {(g, r, v) for g, r, v in granted if v not in ("list", "watch", "get")}
    assert writes == {("wgpolicyk8s.io", "policyreports", v) for v in ("create", "update", "delete")} | {
        ("", "events", "create")}
    assert not any(r == "secrets" for _, r, _ in granted)
    binding = one(auditor, "ClusterRoleBinding", "model-gatekeeper-auditor")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "model-gatekeeper-auditor", "namespace": NAMESPACE}]


def test_the_lease_is_held_in_the_gates_namespace_only(auditor) -> None:
    role = one(auditor, "Role", "model-gatekeeper-auditor")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]
    assert one(auditor, "RoleBinding", "model-gatekeeper-auditor")["roleRef"]["name"] == "model-gatekeeper-auditor"


def test_network_policy_admits_only_the_metrics_port(auditor) -> None:
    policy = one(auditor, "NetworkPolicy", "model-gatekeeper-auditor")
    assert policy["spec"]["podSelector"]["matchLabels"] == one(
        auditor, "Deployment", "model-gatekeeper-auditor")["spec"]["selector"]["matchLabels"]
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == [9090]


def test_both_opa_sidecars_run_as_the_embedded_serving_opa(auditor) -> None:
    from gatekeeper.opa.server import OPA_GOGC, SERVING_OPA_PROCESSORS

    for deployment in ("model-gatekeeper", "model-gatekeeper-auditor"):
        spec = one(auditor, "Deployment", deployment)["spec"]["template"]["spec"]
        [opa] = [c for c in spec["containers"] if c["name"] == "opa"]
        env = {e["name"]: e["value"] for e in opa.get("env", [])}
        assert env == {"GOGC": str(OPA_GOGC), "GOMAXPROCS": str(SERVING_OPA_PROCESSORS)}, deployment


def millicores(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def test_a_resync_yields_to_admission_on_shared_nodes(auditor) -> None:
    # README "Cost": the kernel weighs pods by their CPU requests; the auditor asks half the
    # webhook's, prefers other nodes than the webhook's replicas, and lowers its own priority.
    def requested(spec: dict[str, Any]) -> int:
        return sum(millicores(c["resources"]["requests"]["cpu"]) for c in spec["containers"])

    spec = auditor_spec(auditor)
    webhook = one(auditor, "Deployment", "model-gatekeeper")["spec"]["template"]["spec"]
    assert 2 * requested(spec) <= requested(webhook)
    [term] = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    webhook_labels = one(auditor, "Deployment", "model-gatekeeper")["spec"]["template"]["metadata"]["labels"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= webhook_labels.items()
    assert "--nice" not in command_line({c["name"]: c for c in spec["containers"]}["auditor"])  # the default, 10
