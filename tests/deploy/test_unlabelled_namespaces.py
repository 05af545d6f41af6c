"""The opt-in catch-all for unlabelled namespaces (deploy/components/unlabelled-namespaces)."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from .test_manifests import DEPLOY, kustomize  # noqa: F401 - the fixture renders with the real kustomize


def test_catch_all_entry_judges_unlabelled_namespaces_like_production(kustomize, tmp_path):  # noqa: F811
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    (tmp_path / "deploy" / "kustomization.yaml").write_text(
        "resources: [base]\ncomponents: [components/unlabelled-namespaces]\n")
    done = subprocess.run([kustomize, "build", str(tmp_path / "deploy")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [config] = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "ValidatingWebhookConfiguration"]
    hooks = {h["name"]: h for h in config["webhooks"]}
    production, catch_all = hooks["production.validate.model-gatekeeper.io"], hooks["unlabelled.validate.model-gatekeeper.io"]
    assert catch_all["namespaceSelector"]["matchExpressions"][0] == {
        "key": "model-gatekeeper.io/environment", "operator": "DoesNotExist"}
    assert {"kube-system", "kube-public", "kube-node-lease", "model-gatekeeper-system"} <= set(
        catch_all["namespaceSelector"]["matchExpressions"][1]["values"])
    same = ("rules", "matchConditions", "clientConfig", "failurePolicy", "timeoutSeconds", "sideEffects")
    assert {k: catch_all[k] for k in same} == {k: production[k] for k in same}  # default environment: production
