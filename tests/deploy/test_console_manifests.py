"""deploy/components/console (through deploy/overlays/console): the compliance console,
opt-in, read-only, rendered by the real kustomize."""

from __future__ import annotations

from typing import Any

import pytest

from .test_manifests import NAMESPACE, build, command_line, find, kustomize, one, serving_table  # noqa: F401

CONSOLE = "model-gatekeeper-console"
READ = {"get", "list", "watch"}


@pytest.fixture(scope="module")
def rendered(kustomize: str) -> list[dict[str, Any]]:  # noqa: F811
    return build(kustomize, "overlays/console")


def console_options() -> set[str]:
    """The options `gatekeeper console` takes, from the command itself."""
    import typer

    from gatekeeper.cli.app import app

    command = typer.main.get_command(app).commands["console"]  # type: ignore[attr-defined]
    return {option for param in command.params for option in param.opts}


def console_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", CONSOLE)["spec"]["template"]["spec"]


def test_opt_in_the_base_and_the_auditor_overlay_have_no_console(kustomize: str) -> None:  # noqa: F811
    for path in ("base", "overlays/auditor", "overlays/cert-manager"):
        assert not [d for d in build(kustomize, path) if d["metadata"]["name"] == CONSOLE], path


def test_runs_gatekeeper_console_with_its_token_from_a_secret(rendered) -> None:
    spec = console_spec(rendered)
    assert spec["serviceAccountName"] == CONSOLE
    containers = {c["name"]: c for c in spec["containers"]}
    line = command_line(containers["console"])
    assert line[:2] == ["gatekeeper", "console"]
    options = dict(zip(line[2::2], line[3::2]))
    assert options["--port"] == "8444" and options["--audit-db"] == "$(GATEKEEPER_AUDIT_DB)"
    assert set(options) <= console_options(), "an option `gatekeeper console` does not take"
    token_path = options["--token-file"]
    mount = next(m for m in containers["console"]["volumeMounts"] if token_path.startswith(m["mountPath"] + "/"))
    volume = {v["name"]: v for v in spec["volumes"]}[mount["name"]]
    assert volume["secret"]["secretName"] == CONSOLE
    assert token_path.removeprefix(mount["mountPath"] + "/") in {i["path"] for i in volume["secret"]["items"]}
    # the token is never a literal in the manifests
    assert not find(rendered, "Secret", CONSOLE)
    # the same decision log as the webhook's
    env = {e["name"]: e for e in containers["console"]["env"]}
    webhook = one(rendered, "Deployment", "model-gatekeeper")["spec"]["template"]["spec"]
    [gate] = [c for c in webhook["containers"] if c["name"] == "gatekeeper"]
    assert env["GATEKEEPER_AUDIT_DB"] == {e["name"]: e for e in gate["env"]}["GATEKEEPER_AUDIT_DB"]
    # its OPA loads the webhook's policies, folder tree and all
    webhook_policies = {v["name"]: v for v in webhook["volumes"]}["policies"]["configMap"]
    assert {v["name"]: v for v in spec["volumes"]}["policies"]["configMap"] == webhook_policies
    for c in spec["containers"]:
        context = c["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["runAsNonRoot"] is True, c["name"]
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"], c["name"]


def test_the_service_and_network_policy_expose_only_the_console_port(rendered) -> None:
    labels = one(rendered, "Deployment", CONSOLE)["spec"]["selector"]["matchLabels"]
    service = one(rendered, "Service", CONSOLE)
    assert service["spec"]["selector"] == labels
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8444, 8444)]
    policy = one(rendered, "NetworkPolicy", CONSOLE)
    assert policy["spec"]["podSelector"]["matchLabels"] == labels
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == [8444]


def rules(docs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    role = one(docs, "ClusterRole", CONSOLE)
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_rbac_reads_the_gated_kinds_namespaces_and_reports_and_writes_nothing(rendered, serving_table) -> None:  # noqa: F811
    granted = rules(rendered)
    assert {v for _, _, v in granted} == READ  # no create, update, patch, delete, impersonate, escalate
    gated = {(row["group"], row["resource"]) for row in serving_table["kinds"]}
    readable = gated | {("", "namespaces"), ("wgpolicyk8s.io", "policyreports")}
    assert granted == {(g, r, v) for g, r in readable for v in READ}
    assert not any(r in ("secrets", "*") for _, r, _ in granted)
    binding = one(rendered, "ClusterRoleBinding", CONSOLE)
    assert binding["roleRef"]["name"] == CONSOLE
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": CONSOLE, "namespace": NAMESPACE}]
    assert not find(rendered, "Role", CONSOLE) and not find(rendered, "RoleBinding", CONSOLE)
