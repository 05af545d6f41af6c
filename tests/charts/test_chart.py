"""charts/model-gatekeeper: lint, the ci/ scenarios, the values users set, the values refused.

Rendered by the pinned helm (`helm template`); certificates checked with `cryptography`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from .render import CHART, NAMESPACE, RELEASE, find, helm, one, refused, sync_policies, template

SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
ENVIRONMENT_HOOKS = {"production", "staging", "development"}


@pytest.fixture(scope="module", autouse=True)
def policies() -> None:
    sync_policies()


def scenario(tmp: Path, name: str) -> list[dict[str, Any]]:
    return template(tmp, None, CHART / "ci" / f"{name}-values.yaml")


def hooks(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {h["name"].split(".")[0]: h for h in one(docs, "ValidatingWebhookConfiguration")["webhooks"]}


def gate(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return one(docs, "Deployment", RELEASE)["spec"]["template"]["spec"]


def container(docs: list[dict[str, Any]], name: str = "gatekeeper") -> dict[str, Any]:
    return next(c for c in gate(docs)["containers"] if c["name"] == name)


def test_scenarios_exist():
    assert {p.name.removesuffix("-values.yaml") for p in SCENARIOS} >= {
        "defaults", "cert-manager", "self-signed", "auditor", "postgresql", "one-environment", "sqlite", "console"}


@pytest.mark.parametrize("values", [None, *SCENARIOS], ids=lambda p: p.name if p else "no-values")
def test_helm_lint_passes(tmp_path, values):
    done = helm("lint", "--strict", str(CHART), *(["-f", str(values)] if values else []), tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 chart(s) failed" in done.stdout


def test_defaults_make_a_ca_whose_certificate_the_webhooks_trust(tmp_path):
    docs = scenario(tmp_path, "defaults")
    secret = one(docs, "Secret", "model-gatekeeper-tls")
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    leaf = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert f"model-gatekeeper.{NAMESPACE}.svc" in names
    for hook in hooks(docs).values():
        assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
        assert hook["clientConfig"]["service"]["name"] == "model-gatekeeper"
    # the pods mount that Secret
    assert next(v for v in gate(docs)["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "model-gatekeeper-tls"


def test_defaults_are_three_environments_failing_closed(tmp_path):
    docs = scenario(tmp_path, "defaults")
    entries = hooks(docs)
    assert set(entries) == ENVIRONMENT_HOOKS | {"environment-label"}
    for name in ENVIRONMENT_HOOKS:
        hook = entries[name]
        assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Fail", 5)
        assert hook["clientConfig"]["service"]["path"] == f"/validate/{name}"
        assert hook["namespaceSelector"]["matchExpressions"][0]["values"] == [name]
        assert hook["namespaceSelector"]["matchExpressions"][1]["values"] == [NAMESPACE, "kube-system"]
    deployment = one(docs, "Deployment", RELEASE)
    assert deployment["spec"]["replicas"] == 3
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 2
    assert not find(docs, "Namespace"), "helm install --create-namespace makes the namespace"


def test_cert_manager_issues_and_injects(tmp_path):
    docs = scenario(tmp_path, "cert-manager")
    config = one(docs, "ValidatingWebhookConfiguration")
    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"{NAMESPACE}/model-gatekeeper"
    assert all("caBundle" not in h["clientConfig"] for h in config["webhooks"])
    assert one(docs, "Certificate", "model-gatekeeper")["spec"]["secretName"] == "model-gatekeeper-tls"
    assert not find(docs, "Secret"), "cert-manager writes the Secret, not the chart"


def test_self_signed_validity_is_the_values(tmp_path):
    docs = scenario(tmp_path, "self-signed")
    leaf = x509.load_pem_x509_certificate(base64.b64decode(one(docs, "Secret")["data"]["tls.crt"]))
    assert (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days in (729, 730)


def test_a_secret_you_provide_and_its_ca(tmp_path):
    docs = scenario(tmp_path, "secret-tls")
    values = yaml.safe_load((CHART / "ci" / "secret-tls-values.yaml").read_text())
    assert {h["clientConfig"]["caBundle"] for h in hooks(docs).values()} == {values["tls"]["caBundle"]}
    assert next(v for v in gate(docs)["volumes"] if v["name"] == "tls")["secret"]["secretName"] == "my-webhook-tls"
    assert not find(docs, "Secret")


def test_auditor_on_with_its_interval_and_resync(tmp_path):
    docs = scenario(tmp_path, "auditor")
    auditor = one(docs, "Deployment", "model-gatekeeper-auditor")
    args = auditor["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--interval") + 1] == "30" and args[args.index("--resync") + 1] == "1800"
    assert auditor["spec"]["template"]["spec"]["serviceAccountName"] == "model-gatekeeper-auditor"
    assert one(docs, "ClusterRole", "model-gatekeeper-auditor")
    assert not find(scenario(tmp_path, "defaults"), "Deployment", "model-gatekeeper-auditor"), "off by default"


def test_console_on_read_only_with_its_token_secret_and_port(tmp_path):
    docs = scenario(tmp_path, "console")
    name = "model-gatekeeper-console"
    spec = one(docs, "Deployment", name)["spec"]["template"]["spec"]
    [console] = [c for c in spec["containers"] if c["name"] == "console"]
    args = console["args"]
    assert args[0] == "console" and args[args.index("--port") + 1] == "9444"
    token = {v["name"]: v for v in spec["volumes"]}["token"]["secret"]
    assert token["secretName"] == "compliance-console" and token["items"] == [{"key": "token", "path": "token"}]
    assert spec["serviceAccountName"] == name
    assert [p["port"] for p in one(docs, "Service", name)["spec"]["ports"]] == [9444]
    assert {v for rule in one(docs, "ClusterRole", name)["rules"] for v in rule["verbs"]} == {"get", "list", "watch"}
    assert not find(scenario(tmp_path, "defaults"), "Deployment", name), "off by default"


def test_postgresql_log_from_your_secret(tmp_path):
    env = {e["name"]: e for e in container(scenario(tmp_path, "postgresql"))["env"]}
    assert env["GATEKEEPER_AUDIT_DB"]["valueFrom"]["secretKeyRef"] == {"name": "gate-db", "key": "dsn"}


def test_sqlite_is_one_replica_on_a_claim(tmp_path):
    docs = scenario(tmp_path, "sqlite")
    deployment = one(docs, "Deployment", RELEASE)
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    gatekeeper = container(docs)
    path = gatekeeper["args"][gatekeeper["args"].index("--audit-db") + 1]
    mount = next(m for m in gatekeeper["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    volume = next(v for v in gate(docs)["volumes"] if v["name"] == mount["name"])
    claim = one(docs, "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    assert "GATEKEEPER_AUDIT_DB" not in {e["name"] for e in gatekeeper["env"]}
    assert not find(docs, "PodDisruptionBudget")
    egress_ports = {p["port"] for rule in one(docs, "NetworkPolicy")["spec"]["egress"] for p in rule.get("ports", [])}
    assert 5432 not in egress_ports


def test_one_environment_and_the_catch_all(tmp_path):
    docs = scenario(tmp_path, "one-environment")
    entries = hooks(docs)
    assert set(entries) == {"production", "environment-label", "unlabelled"}
    catch_all = entries["unlabelled"]
    assert catch_all["namespaceSelector"]["matchExpressions"] == [
        {"key": "model-gatekeeper.io/environment", "operator": "DoesNotExist"},
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn",
         "values": [NAMESPACE, "kube-system", "kube-public", "kube-node-lease"]}]
    assert catch_all["rules"] == entries["production"]["rules"]
    [spread] = gate(docs)["topologySpreadConstraints"]
    assert spread["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "model-gatekeeper",
                                                      "app.kubernetes.io/component": "webhook"}


def test_policies_configmap_is_mounted_key_by_key(tmp_path):
    docs = scenario(tmp_path, "defaults")
    config_map = one(docs, "ConfigMap", "model-gatekeeper-policies")
    volume = next(v for v in gate(docs)["volumes"] if v["name"] == "policies")["configMap"]
    assert {i["key"] for i in volume["items"]} == set(config_map["data"])
    assert {i["path"] for i in volume["items"]} >= {"gatekeeper/decision.rego", "gatekeeper/matrix/requirements.yaml"}
    assert gate(docs)  # and the pod template carries the checksum that rolls the pods on a change
    assert "checksum/policies" in one(docs, "Deployment", RELEASE)["spec"]["template"]["metadata"]["annotations"]


def test_values_set_what_users_expect(tmp_path):
    docs = template(tmp_path, {
        "image": {"repository": "registry.example.com/model-gatekeeper", "tag": "9.9.9"},
        "replicas": 5, "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}},
        "podDisruptionBudget": {"minAvailable": 3},
        "webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 10, "excludedNamespaces": ["kube-system", "infra"]},
        "tokens": {"existingSecret": "ci-tokens"}, "nodeSelector": {"pool": "system"},
    })
    deployment = one(docs, "Deployment", RELEASE)
    assert deployment["spec"]["replicas"] == 5
    gatekeeper = container(docs)
    assert gatekeeper["image"] == "registry.example.com/model-gatekeeper:9.9.9"
    assert gatekeeper["resources"]["requests"] == {"cpu": "200m", "memory": "256Mi"}
    assert gate(docs)["nodeSelector"] == {"pool": "system"}
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 3
    for hook in hooks(docs).values():
        assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Ignore", 10)
    assert hooks(docs)["staging"]["namespaceSelector"]["matchExpressions"][1]["values"] == [NAMESPACE, "kube-system", "infra"]
    token = next(v for v in gate(docs)["volumes"] if v["name"] == "admission-token")
    assert token["secret"]["secretName"] == "ci-tokens"


def test_serving_kinds_and_matrix_from_values(tmp_path):
    table = yaml.safe_load((CHART / "policies" / "gatekeeper" / "serving" / "kinds.yaml").read_text())
    row = {"group": "serving.example.com", "kind": "ModelServer", "resource": "modelservers", "versions": ["v1"],
           "serves": "always", "uris": ["spec.modelUri"]}
    docs = template(tmp_path, {"servingKinds": {"kinds": [*table["kinds"], row]},
                               "matrix": {"environments": {"staging": {"enforcement": "deny"}}}})
    data = one(docs, "ConfigMap", "model-gatekeeper-policies")["data"]
    served = yaml.safe_load(data["gatekeeper.serving.kinds.yaml"])
    assert served["kinds"][-1] == row and served["servers"] == table["servers"]  # merged, not replaced
    matrix = yaml.safe_load(data["gatekeeper.matrix.requirements.yaml"])
    assert matrix["environments"]["staging"] == {"enforcement": "deny"}
    assert matrix["environments"]["production"] == {"enforcement": "deny"} and matrix["risk_classes"]
    for hook in (h for name, h in hooks(docs).items() if name in ENVIRONMENT_HOOKS):
        assert {"apiGroups": ["serving.example.com"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["modelservers"], "scope": "Namespaced"} in hook["rules"]
        assert "'ModelServer'" in hook["matchConditions"][0]["expression"]  # an owner whose children are exempt
    rules = one(docs, "ClusterRole", RELEASE)["rules"]
    assert any(r["apiGroups"] == ["serving.example.com"] and r["resources"] == ["modelservers"] and r["verbs"] == ["get"]
               for r in rules)


@pytest.mark.parametrize("values, reason", [
    ({"decisionLog": {"backend": "sqlite"}}, "replicas"),
    ({"replicas": 1, "decisionLog": {"backend": "sqlite"}, "auditor": {"enabled": True}}, "auditor"),
    ({"replicas": 1, "decisionLog": {"backend": "sqlite"}, "console": {"enabled": True}}, "console"),
    ({"console": {"enabled": True, "port": 0}}, "port"),
    ({"webhook": {"failurePolicy": "fail"}}, "failurePolicy"),
    ({"webhook": {"timeoutSeconds": 60}}, "timeoutSeconds"),
    ({"replica": 2}, "replica"),
    ({"tls": {"mode": "letsencrypt"}}, "mode"),
    ({"decisionLog": {"backend": "mysql"}}, "backend"),
    ({"webhook": {"environments": ["production", "qa"]}}, "qa"),
])
def test_wrong_values_are_refused_with_the_reason(tmp_path, values, reason):
    message = refused(tmp_path, values)
    assert reason in message, message
    assert "Traceback" not in message and "panic" not in message


def test_notes_give_the_next_steps(tmp_path):
    done = helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", tmp=tmp_path)
    assert done.returncode == 0, done.stderr
    notes = done.stdout[done.stdout.index("NOTES:"):]
    assert "kubectl label namespace lending model-gatekeeper.io/environment=production" in notes
    assert "noncompliant/evidence-missing.yaml" in notes
    assert "gatekeeper audit list" in notes and "model-gatekeeper-audit" in notes
