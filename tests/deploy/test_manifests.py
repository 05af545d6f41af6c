"""deploy/ and the Dockerfile: what reaches a cluster is what deploy/README.md promises.

The manifests are rendered by the real `kustomize build` (.tools/bin/kustomize, installed
by `bash scripts/install-tool.sh kustomize`); without it these tests fail, never skip.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "model-gatekeeper-system"
ENVIRONMENTS = ("production", "staging", "development")
GATE_BUDGET_SECONDS = 3  # the gate's response budget (Settings.response_budget)
MODEL_ANNOTATION = "model-gatekeeper.io/model"


def tools_env() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "scripts" / "tools.env").read_text().splitlines():
        match = re.match(r"^\s*([A-Z_][A-Z0-9_]*)=(\S+)", line)
        if match:
            pins[match.group(1)] = match.group(2).strip("'\"")
    return pins


OPA_VERSION = tools_env()["OPA_VERSION"].removeprefix("v")


# --- rendering -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kustomize() -> str:
    binary = os.environ.get("GATEKEEPER_KUSTOMIZE_BINARY") or str(ROOT / ".tools" / "bin" / "kustomize")
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"kustomize not found at {binary}: install it with `bash scripts/install-tool.sh kustomize` "
            "(the deploy tests render the real manifests and do not skip)",
            pytrace=False,
        )
    # deploy/base/policies/ is generated from policies/ (git-ignored), as `make deploy` does.
    subprocess.run(["bash", str(DEPLOY / "sync-policies.sh")], check=True, capture_output=True, timeout=60)
    return binary


def build(kustomize: str, path: str) -> list[dict[str, Any]]:
    done = subprocess.run(
        [kustomize, "build", str(DEPLOY / path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"kustomize build deploy/{path} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def base(kustomize: str) -> list[dict[str, Any]]:
    return build(kustomize, "base")


@pytest.fixture(scope="module")
def overlay(kustomize: str) -> list[dict[str, Any]]:
    return build(kustomize, "overlays/cert-manager")


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def webhooks(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    config = one(docs, "ValidatingWebhookConfiguration", "model-gatekeeper")
    return {hook["name"]: hook for hook in config["webhooks"]}


def pod_spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", "model-gatekeeper")["spec"]["template"]["spec"]


def container(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    by_name = {c["name"]: c for c in pod_spec(docs)["containers"]}
    assert name in by_name, f"no container {name!r} in the Deployment (has {sorted(by_name)})"
    return by_name[name]


def command_line(c: dict[str, Any]) -> list[str]:
    return [str(part) for part in c.get("command", []) + c.get("args", [])]


# --- the webhook -----------------------------------------------------------------------


LABEL_GUARD = "environment-label.validate.model-gatekeeper.io"


def environment_webhooks(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: hook for name, hook in webhooks(docs).items() if name != LABEL_GUARD}


def test_one_webhook_per_environment_with_its_path(base):
    hooks = webhooks(base)
    assert sorted(hooks) == sorted([*(f"{env}.validate.model-gatekeeper.io" for env in ENVIRONMENTS), LABEL_GUARD])
    for env in ENVIRONMENTS:
        service = hooks[f"{env}.validate.model-gatekeeper.io"]["clientConfig"]["service"]
        assert service == {"name": "model-gatekeeper", "namespace": NAMESPACE, "path": f"/validate/{env}", "port": 443}


def test_webhook_environment_comes_from_the_namespace_label(base):
    for env in ENVIRONMENTS:
        selector = webhooks(base)[f"{env}.validate.model-gatekeeper.io"]["namespaceSelector"]
        assert "matchLabels" not in selector
        expressions = {e["key"]: e for e in selector["matchExpressions"]}
        assert expressions["model-gatekeeper.io/environment"] == {
            "key": "model-gatekeeper.io/environment", "operator": "In", "values": [env],
        }
        excluded = expressions["kubernetes.io/metadata.name"]
        assert excluded["operator"] == "NotIn"
        assert {NAMESPACE, "kube-system"} <= set(excluded["values"])


def test_webhooks_fail_closed_within_the_timeout(base):
    for name, hook in webhooks(base).items():
        assert hook["failurePolicy"] == "Fail", name
        assert hook["timeoutSeconds"] == 5, name
        assert GATE_BUDGET_SECONDS < hook["timeoutSeconds"] <= GATE_BUDGET_SECONDS + 2, name
        assert hook["sideEffects"] == "NoneOnDryRun", name
        assert hook["admissionReviewVersions"] == ["v1"], name
        assert "caBundle" not in hook["clientConfig"] or not hook["clientConfig"]["caBundle"], name


@pytest.fixture(scope="module")
def serving_table(opa_url) -> dict[str, Any]:
    """The serving-kinds table as OPA serves it (data.gatekeeper.serving)."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{opa_url}/v1/data/gatekeeper/serving", timeout=10) as answer:
        return json.load(answer)["result"]


def test_webhooks_gate_every_serving_kind_on_create_and_update(base, serving_table):
    # A kind added to the table needs its rule here (README, "How to add a serving kind").
    expected = {(row["group"], version, row["resource"]) for row in serving_table["kinds"] for version in row["versions"]}
    # Rows whose running objects gain containers later (a Pod's ephemeral containers,
    # `kubectl debug`): that subresource is an UPDATE only, and must reach the gate too.
    added_later = {(row["group"], version, f"{row['resource']}/ephemeralcontainers")
                   for row in serving_table["kinds"] if row.get("added_later") for version in row["versions"]}
    assert added_later == {("", "v1", "pods/ephemeralcontainers")}
    for name, hook in environment_webhooks(base).items():
        seen, seen_later = set(), set()
        for rule in hook["rules"]:
            triples = {(g, v, r) for g in rule["apiGroups"] for v in rule["apiVersions"] for r in rule["resources"]}
            if triples <= added_later:
                assert rule["operations"] == ["UPDATE"], name
                seen_later |= triples
                continue
            assert sorted(rule["operations"]) == ["CREATE", "UPDATE"], name
            seen |= triples
        assert seen == expected, name
        assert seen_later == added_later, name


def owner_rows(serving_table: dict[str, Any]) -> list[dict[str, Any]]:
    """The kinds whose judgement covers a workload they control (serving.ServingKinds.controller_owner):
    the table's kinds that make objects from a template or serve a model, and its owner-only kinds."""
    return [row for row in serving_table["kinds"] if row.get("template") or row.get("serves", "always") == "always"
            ] + serving_table["owners"]


def test_match_conditions_send_every_deployment_and_direct_pods(base, serving_table):
    from gatekeeper.pipeline.serving import CONTROLLER_ACCOUNTS, CONTROLLER_MANAGER
    from gatekeeper.pipeline.workloads import MODEL_ANNOTATION, RISK_ANNOTATION

    owner_kinds = sorted({row["kind"] for row in owner_rows(serving_table)})
    assert "Pod" not in owner_kinds and {"Server", "ServingRuntime", "ReplicaSet"} <= set(owner_kinds)
    direct = [row["resource"] for row in serving_table["kinds"] if row.get("direct_only")]  # table order
    for name, hook in environment_webhooks(base).items():
        conditions = {c["name"]: " ".join(c["expression"].split()) for c in hook.get("matchConditions", [])}
        # No condition on annotations: an un-annotated model server must reach the gate.
        assert set(conditions) == {"direct-only", "not-finalizing"}, name
        only = conditions["direct-only"]
        assert f"request.resource.resource in [{', '.join(repr(r) for r in direct)}]" in only
        assert f"o.kind in [{', '.join(repr(k) for k in owner_kinds)}]" in only  # the table's kinds, all
        assert "has(object.metadata.ownerReferences)" in only and "has(o.controller)" in only
        # only Kubernetes' own controllers' owned objects skip the gate: the same identities
        # the gate trusts without reading the owner
        prefix, suffix = CONTROLLER_ACCOUNTS
        assert (f"!(has(request.userInfo.username) && (request.userInfo.username == '{CONTROLLER_MANAGER}' || "
                f"(request.userInfo.username.startsWith('{prefix}') && "
                f"request.userInfo.username.endsWith('{suffix}')))) ||") in only, only
        # ephemeral containers of an owned Pod: no owner judged them
        assert only.startswith("(has(request.subResource) && request.subResource == 'ephemeralcontainers') || ")
        # a terminating object is skipped only when neither its spec nor its model annotations
        # changed; the template's annotations are part of the spec
        finalizing = conditions["not-finalizing"]
        assert "object.spec != oldObject.spec" in finalizing
        assert f"['{MODEL_ANNOTATION}', '{RISK_ANNOTATION}'].exists(k," in finalizing, finalizing
        assert "object.metadata.annotations[k] != oldObject.metadata.annotations[k]" in finalizing
    assert all(row["template"].startswith("spec.") for row in serving_table["kinds"] if row.get("template"))
    guard = webhooks(base)[LABEL_GUARD]
    # the Namespace and every subresource of it: namespaces/status and namespaces/finalize write
    # the whole object's metadata, labels included (deploy/README.md)
    assert guard["rules"] == [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                               "resources": ["namespaces"], "scope": "Cluster"},
                              {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"],
                               "resources": ["namespaces/*"], "scope": "Cluster"}]
    assert guard["clientConfig"]["service"]["path"] == "/validate/production"  # always enforced
    assert "namespaceSelector" not in guard  # a Namespace's own labels would let a removal escape
    for name, hook in webhooks(base).items():
        conditions = {c["name"]: " ".join(c["expression"].split()) for c in hook.get("matchConditions", [])}
        # CEL identifiers the admission matchConditions environment does not declare.
        for condition in conditions.values():
            assert not re.search(r"\b(self|params|namespaceObject|variables)\.", condition), condition


# --- the Deployment --------------------------------------------------------------------


def test_three_replicas_spread_and_protected_by_a_pdb(base):
    deployment = one(base, "Deployment", "model-gatekeeper")
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 3
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()

    terms = pod_spec(base)["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert any(
        t["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
        and t["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
        for t in terms
    )

    pdb = one(base, "PodDisruptionBudget", "model-gatekeeper")
    assert pdb["spec"]["minAvailable"] == 2
    assert pdb["spec"]["selector"]["matchLabels"] == selector


def test_every_container_is_non_root_read_only_and_unprivileged(base):
    spec = pod_spec(base)
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert {c["name"] for c in spec["containers"]} == {"gatekeeper", "opa"}
    for c in spec["containers"] + spec.get("initContainers", []):
        context = {**spec["securityContext"], **c.get("securityContext", {})}
        assert context["runAsNonRoot"] is True, c["name"]
        assert context["runAsUser"] == 65532, c["name"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
        assert c["securityContext"].get("privileged", False) is False, c["name"]
        assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
        assert not c["securityContext"]["capabilities"].get("add"), c["name"]
        assert context["seccompProfile"]["type"] == "RuntimeDefault", c["name"]
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"][kind]), (c["name"], kind)
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        if c["name"] == "gatekeeper":
            assert "/tmp" in mounts
    volumes = {v["name"]: v for v in spec["volumes"]}
    tmp = next(m["name"] for m in container(base, "gatekeeper")["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in volumes[tmp]
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")


def test_gate_container_command_probes_and_secrets(base):
    gate = container(base, "gatekeeper")
    assert gate["image"] == "model-gatekeeper:0.1.0"
    line = command_line(gate)
    assert line[:2] == ["gatekeeper", "serve"]
    options = dict(zip(line[2::2], line[3::2]))
    assert options == {
        "--host": "0.0.0.0", "--port": "8443", "--tls-cert": "/certs/tls.crt", "--tls-key": "/certs/tls.key",
        "--opa-url": "http://127.0.0.1:8181", "--evidence": "/evidence", "--audit-db": "$(GATEKEEPER_AUDIT_DB)",
        "--admission-token-file": "/etc/model-gatekeeper/admission/token",
        "--log-key": "/etc/model-gatekeeper/log/key",
    }
    env = {e["name"]: e for e in gate["env"]}
    assert env["GATEKEEPER_AUDIT_DB"]["valueFrom"]["secretKeyRef"] == {"name": "model-gatekeeper-audit", "key": "url"}
    # only the API server (holding the admission token) and evaluate-token holders are answered
    assert env["GATEKEEPER_EVALUATE_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "model-gatekeeper-tokens",
                                                                           "key": "evaluate"}

    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = gate[probe]["httpGet"]
        assert (get["path"], get["port"], get["scheme"]) == (path, 8443, "HTTPS"), probe

    spec = pod_spec(base)
    volumes = {v["name"]: v for v in spec["volumes"]}
    certs = next(m for m in gate["volumeMounts"] if m["mountPath"] == "/certs")
    assert volumes[certs["name"]]["secret"]["secretName"] == "model-gatekeeper-tls"
    token = next(m for m in gate["volumeMounts"] if m["mountPath"] == "/etc/model-gatekeeper/admission")
    assert volumes[token["name"]]["secret"]["secretName"] == "model-gatekeeper-tokens"
    assert volumes[token["name"]]["secret"]["items"] == [{"key": "admission", "path": "token"}]
    # the checkpoint signer key: a Secret, mounted in the gate container only
    log_key = next(m for m in gate["volumeMounts"] if m["mountPath"] == "/etc/model-gatekeeper/log")
    assert volumes[log_key["name"]]["secret"]["secretName"] == "model-gatekeeper-log-key"
    assert volumes[log_key["name"]]["secret"]["items"] == [{"key": "key", "path": "key"}]
    assert not any(m["name"] == log_key["name"] for c in spec["containers"] if c["name"] != "gatekeeper"
                   for m in c.get("volumeMounts", []))
    assert spec["serviceAccountName"] == "model-gatekeeper"


def test_opa_sidecar_is_pinned_to_tools_env_and_loads_the_policies(base):
    opa = container(base, "opa")
    assert opa["image"] == f"openpolicyagent/opa:{OPA_VERSION}-static", "keep in step with scripts/tools.env"
    line = command_line(opa)
    assert line[:2] == ["run", "--server"]
    assert line[line.index("--addr") + 1] == "127.0.0.1:8181"  # loopback only: never reachable off-pod
    assert line[line.index("--ignore") + 1] == "*_test.rego"
    assert line[-1] == "/policies"
    mount = next(m for m in opa["volumeMounts"] if m["mountPath"] == "/policies")
    volume = next(v for v in pod_spec(base)["volumes"] if v["name"] == mount["name"])
    config_map = one(base, "ConfigMap", volume["configMap"]["name"])  # the hashed, generated name
    assert config_map["metadata"]["name"].startswith("model-gatekeeper-policies-")


def test_policy_configmap_rebuilds_the_policies_folder(base):
    """What OPA sees under /policies in the pod is exactly what it loads from policies/ locally."""
    volume = next(v for v in pod_spec(base)["volumes"] if v["name"] == "policies")["configMap"]
    config_map = one(base, "ConfigMap", volume["name"])
    contents = {**config_map.get("data", {}), **config_map.get("binaryData", {})}
    mounted = {item["path"]: contents[item["key"]] for item in volume.get("items", [])}
    assert set(contents) == {item["key"] for item in volume.get("items", [])}, "every key is mounted"

    source = ROOT / "policies"
    expected = {
        str(p.relative_to(source)): p.read_text()
        for p in source.rglob("*")
        if p.is_file() and p.suffix in {".rego", ".json", ".yaml", ".yml"} and not p.name.endswith("_test.rego")
        and not any(part.startswith(".") or part == "testdata" for part in p.relative_to(source).parts)
    }
    assert expected, "policies/ has no policy files"
    stale = sorted(set(expected) ^ set(mounted)) or sorted(p for p in expected if expected[p] != mounted[p])
    assert not stale, f"deploy/base/policies/ is out of date ({stale[:5]}): run deploy/sync-policies.sh"


def test_opa_loads_the_mounted_policies(base, tmp_path):
    """The tree the pod mounts compiles on its own (no test files) and places data by folder."""
    opa = os.environ.get("GATEKEEPER_OPA_BINARY") or str(ROOT / ".tools" / "bin" / "opa")
    if not Path(opa).is_file():
        pytest.fail(f"opa not found at {opa}: run `bash scripts/install-tool.sh opa`", pytrace=False)
    volume = next(v for v in pod_spec(base)["volumes"] if v["name"] == "policies")["configMap"]
    data = one(base, "ConfigMap", volume["name"]).get("data", {})
    for item in volume["items"]:
        target = tmp_path / "policies" / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]])
    args = container(base, "opa")["args"]
    ignore = ["--ignore", args[args.index("--ignore") + 1]]
    checked = subprocess.run([opa, "check", *ignore, str(tmp_path / "policies")], capture_output=True, text=True,
                             timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    evaluated = subprocess.run(
        [opa, "eval", *ignore, "--format", "raw", "-d", str(tmp_path / "policies"),
         "count(object.keys(data.gatekeeper.matrix)) > 0"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert evaluated.stdout.strip() == "true", evaluated.stdout + evaluated.stderr


def test_sync_policies_check_agrees():
    done = subprocess.run(
        ["bash", str(DEPLOY / "sync-policies.sh"), "--check"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


# --- service, RBAC, network --------------------------------------------------------------


def test_service_maps_443_to_the_gate(base):
    service = one(base, "Service", "model-gatekeeper")
    assert service["metadata"]["namespace"] == NAMESPACE
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(443, 8443)]
    assert service["spec"]["selector"] == one(base, "Deployment")["spec"]["selector"]["matchLabels"]


def test_rbac_reads_namespaces_gets_the_owner_kinds_and_lists_policyreports_only(base, serving_table):
    assert not find(base, "Role") and not find(base, "RoleBinding")
    roles = find(base, "ClusterRole")
    assert [r["metadata"]["name"] for r in roles] == ["model-gatekeeper"]
    granted = {(group, resource, verb) for rule in roles[0]["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    # the namespace label (POST /validate), the owners it confirms (get by name, README
    # "Owners") and the auditor's reports (GET /v1/inventory, list only): no writes, nothing else
    owners = {(row["group"], row["resource"], "get") for row in owner_rows(serving_table)}
    assert granted == owners | {("", "namespaces", verb) for verb in ("get", "list", "watch")} | {
        ("wgpolicyk8s.io", "policyreports", "list")}
    assert not any(resource in ("secrets", "pods") for _, resource, _ in granted)
    binding = one(base, "ClusterRoleBinding", "model-gatekeeper")
    assert binding["roleRef"]["name"] == "model-gatekeeper"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "model-gatekeeper", "namespace": NAMESPACE}]
    one(base, "ServiceAccount", "model-gatekeeper")


def test_network_policy_admits_only_the_webhook_port(base):
    policy = one(base, "NetworkPolicy", "model-gatekeeper")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == one(base, "Deployment")["spec"]["selector"]["matchLabels"]
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    ingress_ports = [p["port"] for rule in spec["ingress"] for p in rule["ports"]]
    assert ingress_ports == [8443]
    egress_ports = {(p.get("protocol", "TCP"), p["port"]) for rule in spec["egress"] for p in rule["ports"]}
    assert {("UDP", 53), ("TCP", 443), ("TCP", 5432)} <= egress_ports
    assert all(rule.get("ports") for rule in spec["egress"]), "no egress rule may open every port"


def test_namespace_is_the_gates_own(base):
    namespace = one(base, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert "model-gatekeeper.io/environment" not in namespace["metadata"].get("labels", {})
    for doc in base:
        if doc["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"}:
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["kind"]


# --- cert-manager overlay ----------------------------------------------------------------


def test_overlay_issues_the_serving_certificate_and_injects_the_ca(overlay):
    certificate = one(overlay, "Certificate", "model-gatekeeper")
    assert certificate["metadata"]["namespace"] == NAMESPACE
    assert certificate["spec"]["secretName"] == "model-gatekeeper-tls"
    assert f"model-gatekeeper.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    issuer = certificate["spec"]["issuerRef"]
    assert find(overlay, issuer.get("kind", "Issuer"), issuer["name"]), "the Certificate's issuer is in the overlay"
    assert any("selfSigned" in i["spec"] for i in find(overlay, "Issuer"))

    config = one(overlay, "ValidatingWebhookConfiguration", "model-gatekeeper")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/model-gatekeeper"
    assert webhooks(overlay).keys() == {f"{env}.validate.model-gatekeeper.io" for env in ENVIRONMENTS} | {LABEL_GUARD}


def test_overlay_keeps_the_base(base, overlay):
    assert pod_spec(overlay) == pod_spec(base)
    assert webhooks(overlay) == webhooks(base)


# --- Dockerfile --------------------------------------------------------------------------


def dockerfile_stages() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults, and each stage's instructions as (INSTRUCTION, rest)."""
    text = (ROOT / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    global_args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in logical.splitlines():
        if not line.strip():
            continue
        instruction, _, rest = line.strip().partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        if not stages:
            if instruction == "ARG" and "=" in rest:
                name, _, value = rest.strip().partition("=")
                global_args[name] = value.strip("'\"")
            continue
        stages[-1].append((instruction, rest.strip()))
    return global_args, stages


def test_dockerfile_final_stage_runs_non_root_with_a_healthcheck():
    global_args, stages = dockerfile_stages()
    assert len(stages) >= 3, "multi-stage: OPA, wheel build, runtime"
    final = stages[-1]
    base_image = final[0][1].split()[0]
    base_image = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), m.group(0)), base_image)
    assert base_image == "python:3.11-slim"

    users = [rest for instruction, rest in final if instruction == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, f"USER must be a numeric non-root id (got {users[-1]})"
    assert user == "65532"

    healthchecks = [rest for instruction, rest in final if instruction == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/healthz" in healthchecks[0] and "python" in healthchecks[0]
    assert ("ENTRYPOINT", '["gatekeeper"]') in final
    assert ("CMD", '["serve", "--host", "0.0.0.0"]') in final

    runtime_commands = " ".join(rest for instruction, rest in final if instruction == "RUN")
    for tool in ("gcc", "build-essential", "make ", "pip install", "apt-get install"):
        assert tool not in runtime_commands, f"the runtime stage installs {tool.strip()}"
    copied = [rest for instruction, rest in final if instruction == "COPY"]
    for what in ("policies/", "examples/evidence/", "/opa", "/opt/venv"):
        assert any(what in c for c in copied), what


def test_dockerfile_opa_is_pinned_to_tools_env():
    global_args, _ = dockerfile_stages()
    assert global_args.get("OPA_VERSION", "").removeprefix("v") == OPA_VERSION, "Dockerfile OPA_VERSION != tools.env"
    mentions = re.findall(r"openpolicyagent/opa(?::|@)([\w.${}-]+)|open-policy-agent/opa@([\w.${}-]+)",
                          (ROOT / "Dockerfile").read_text())
    assert mentions, "the Dockerfile takes OPA from a pinned image or go install"
    for image_tag, module_version in mentions:
        resolved = re.sub(r"\$\{?(\w+)\}?", lambda m: global_args.get(m.group(1), ""), image_tag or module_version)
        assert resolved.removeprefix("v").removesuffix("-static") == OPA_VERSION, resolved


def test_dockerignore_is_an_allow_list():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    assert patterns[0] == "*", "start from nothing: .git, .venv, .tools and keys stay out of the build context"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert {"pyproject.toml", "README.md", "src", "policies", "examples/evidence"} <= allowed


def test_dockerfile_installs_the_wheel_as_the_as_deployed_e2e_does():
    # tests/e2e/test_as_deployed_e2e.py proves the install IMAGE_EXTRAS/IMAGE_CONSTRAINTS describe
    from tests.e2e.deployed import IMAGE_CONSTRAINTS, IMAGE_EXTRAS

    _, stages = dockerfile_stages()
    runs = [rest for stage in stages for instruction, rest in stage if instruction == "RUN"]
    installs = [part.strip() for rest in runs for part in rest.split("&&") if "/opt/venv/bin/pip install" in part]
    assert len(installs) == 1, installs
    words = installs[0].split()
    [wheel] = [w for w in words if "model_gatekeeper-" in w]
    extras = re.fullmatch(r"/wheels/model_gatekeeper-\*\.whl(?:\[([\w,-]*)\])?", wheel.strip("'\""))
    assert extras, wheel
    assert tuple(filter(None, (extras.group(1) or "").split(","))) == IMAGE_EXTRAS
    assert words[words.index("-c") + 1] == IMAGE_CONSTRAINTS
    assert any(instruction == "COPY" and IMAGE_CONSTRAINTS in rest for instruction, rest in stages[1])
