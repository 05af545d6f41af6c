"""Rendering the chart with the pinned helm, and objects normalized for comparison with deploy/.

helm is `.tools/bin/helm` (`bash scripts/install-tool.sh helm`, from scripts/tools.env); without
it these tests fail, never skip. The chart's policies/ copy is generated, as deploy/'s is.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..deploy.test_manifests import find, one  # noqa: F401 - the same look-ups for both renderings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "model-gatekeeper"
RELEASE = "model-gatekeeper"
NAMESPACE = "model-gatekeeper-system"

# What Helm (or kustomize) adds that says who rendered an object, not what it is.
RENDERER_LABELS = {"helm.sh/chart", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/managed-by"}
HASH_SUFFIX = re.compile(r"^(model-gatekeeper-policies)-[a-z0-9]{10}$")  # kustomize's configMapGenerator


def helm_binary() -> str:
    binary = os.environ.get("GATEKEEPER_HELM_BINARY") or str(ROOT / ".tools" / "bin" / "helm")
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"helm not found at {binary}: install it with `bash scripts/install-tool.sh helm` "
                    "(the chart tests render the real chart and do not skip)", pytrace=False)
    return binary


def sync_policies() -> None:
    subprocess.run(["bash", str(ROOT / "deploy" / "sync-policies.sh")], check=True, capture_output=True, timeout=60)


def helm(*args: str, values: dict[str, Any] | None = None, tmp: Path | None = None) -> subprocess.CompletedProcess[str]:
    extra: list[str] = []
    if values is not None:
        assert tmp is not None
        path = tmp / f"values-{len(list(tmp.glob('values-*.yaml')))}.yaml"
        path.write_text(yaml.safe_dump(values))
        extra = ["-f", str(path)]
    return subprocess.run([helm_binary(), *args, *extra], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": str(tmp or ROOT / ".tools" / "helm"),
                               "HELM_CONFIG_HOME": str(tmp or ROOT / ".tools" / "helm"),
                               "HELM_DATA_HOME": str(tmp or ROOT / ".tools" / "helm")})


def template(tmp: Path, values: dict[str, Any] | None = None, *files: Path,
             release: str = RELEASE, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """`helm template` of the chart; the objects it renders."""
    args = ["template", release, str(CHART), "--namespace", namespace]
    for file in files:
        args += ["-f", str(file)]
    done = helm(*args, values=values, tmp=tmp)
    assert done.returncode == 0, f"helm template failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def refused(tmp: Path, values: dict[str, Any]) -> str:
    """`helm template` with values the chart must refuse: its one-line reason (stderr)."""
    done = helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, values=values, tmp=tmp)
    assert done.returncode != 0, f"helm template accepted {values}"
    return done.stderr


# --- normalization -------------------------------------------------------------------------------


def _meta(meta: dict[str, Any]) -> None:
    labels = {k: v for k, v in meta.get("labels", {}).items() if k not in RENDERER_LABELS}
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if not k.startswith("checksum/")}
    meta.pop("labels", None)
    meta.pop("annotations", None)
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if "name" in meta:
        meta["name"] = HASH_SUFFIX.sub(r"\1", meta["name"])


def _rules(rules: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """RBAC rules as (group, resource, verb) triples: how they are grouped does not matter."""
    return sorted({(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"]
                   for v in rule["verbs"]})


def normalize(obj: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    _meta(obj["metadata"])
    if obj["kind"] in ("ClusterRole", "Role"):
        obj["rules"] = _rules(obj["rules"])
    template = obj.get("spec", {}).get("template")
    if obj["kind"] == "Deployment" and template:
        _meta(template["metadata"])
        for volume in template["spec"].get("volumes", []):
            if "configMap" in volume:
                volume["configMap"]["name"] = HASH_SUFFIX.sub(r"\1", volume["configMap"]["name"])
        # volumes are looked up by name (kustomize's patch moves the one it patches first)
        template["spec"]["volumes"] = sorted(template["spec"].get("volumes", []), key=lambda v: v["name"])
    return obj


def by_identity(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for doc in docs:
        obj = normalize(doc)
        out[(obj["kind"], obj["metadata"]["name"])] = obj
    return out
