"""docs/mlflow.md run as written: its training script and the commands after it, against a
real MLflow server, end at an admitted InferenceService with no hand edit of evidence.yaml.

The two blocks are read from the page itself (the one starting `# train.py` and the one
starting `# after training`), so the page cannot drift from the product.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT, run_cli
from ..producers.data import TOOL_ENV, ge_result, labelled, loans, run
from .registry import MODEL_CARD, inference_service, only_decision, violations, write_manifest
from .conftest import running_server
from .server import MlflowServer

DOC = ROOT / "docs" / "mlflow.md"


def block(first_line: str) -> str:
    """The fenced code block of docs/mlflow.md whose first line is first_line."""
    blocks = re.findall(r"^```(?:python|sh)\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    [found] = [b for b in blocks if b.startswith(first_line + "\n")]
    return found


@pytest.fixture(scope="module")
def fresh_mlflow(tmp_path_factory) -> Iterator[MlflowServer]:
    """A registry of its own: the page registers `credit-scoring`, which other tests use too."""
    yield from running_server(tmp_path_factory.mktemp("mlflow-docs"))


def project(folder: Path, trust) -> Path:
    """What a data scientist has before training: data, a model card, a Great Expectations
    result, the reviewers' keys, and a git checkout holding train.py as the page writes it."""
    (folder / "data").mkdir(parents=True)
    train = labelled(600, seed=3).assign(sex=["F", "M"] * 300)
    train.to_csv(folder / "data" / "train.csv", index=False)
    loans(600, seed=4).assign(sex=["F", "M"] * 300).to_csv(folder / "data" / "current.csv", index=False)
    train.assign(note=[f"applied online, ref {i}" for i in range(600)])[["note"]].to_csv(
        folder / "data" / "customers.csv", index=False)
    (folder / "validation.json").write_text(json.dumps(ge_result(train)))
    (folder / "model-card.md").write_text(MODEL_CARD.format(model="credit-scoring"))
    shutil.copy(trust.key_files["vera@example.com"], folder / "validator.pem")
    shutil.copy(trust.key_files["cora@example.com"], folder / "compliance.pem")
    (folder / "train.py").write_text(block("# train.py"))
    (folder / ".gitignore").write_text("*.pem\nevidence/\nmlruns/\n")
    run("git", "init", "-q", cwd=folder)
    run("git", "add", "-A", cwd=folder)
    run("git", "commit", "-q", "-m", "training", cwd=folder)
    return folder


def test_the_training_script_and_commands_of_the_page_lead_to_admission(fresh_mlflow, trust, trust_opa, tmp_path):
    work = project(tmp_path / "credit", trust)
    env = {**os.environ, **TOOL_ENV, "MLFLOW_TRACKING_URI": fresh_mlflow.url,
           "GATEKEEPER_POLICY_DIR": str(trust.policy_dir), "NO_COLOR": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", block("# after training")], cwd=work, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = (work / "evidence" / "credit-scoring").iterdir()
    bundle = yaml.safe_load((folder / "evidence.yaml").read_text())
    # every field came from a command: the registry's location and run, the producers' blocks
    assert bundle["artifact"]["uri"] and bundle["artifact"]["digest"].startswith("sha256:")
    assert bundle["fairness"]["sex"]["favourable_outcome"] == "0"
    assert {"lineage", "data_quality", "drift", "pii_scan", "explainability", "model_card"} <= set(bundle)

    manifest = write_manifest(tmp_path, inference_service(f"models:/credit-scoring/{folder.name}",
                                                          bundle["artifact"]["uri"]))
    decided = run_cli("check", "--mlflow", fresh_mlflow.url, "--opa-url", trust_opa, "--format", "json", str(manifest))
    decision = only_decision(decided.json())
    assert decided.code == 0, decision["violations"]
    assert decision["allowed"] and violations(decision) == set()
    assert decision["models"][0]["risk_class"] == "high"


def test_a_version_registered_without_its_run_is_denied_saying_so(fresh_mlflow, trust_opa, tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=fresh_mlflow.url, registry_uri=fresh_mlflow.url)
    client.create_registered_model("runless")
    version = client.create_model_version("runless", "s3://models/runless/1").version  # as register_model("s3://…")
    ref = f"models:/runless/{version}"
    decided = run_cli("check", "--mlflow", fresh_mlflow.url, "--opa-url", trust_opa, "--format", "json",
                      str(write_manifest(tmp_path, inference_service(ref, "s3://models/runless/1"))))
    assert decided.code == 1, decided.stderr
    [violation] = only_decision(decided.json())["violations"]
    assert violation["requirement"] == "evidence.missing"
    assert violation["message"] == (
        f"runless version {version} has no source run in MLflow (registered from s3://models/runless/1 without "
        "run_id), so its run's evidence cannot be read; register it from the run: "
        "mlflow.register_model(f'runs:/{run_id}/model', 'runless') or "
        "MlflowClient().create_model_version('runless', source, run_id=run_id)")
    refused = run_cli("evidence", "init", "runless", str(version), "--risk-class", "high", "--owner", "o",
                      "--mlflow", fresh_mlflow.url)
    assert refused.code == 2 and refused.stderr.count("\n") == 1
    assert "has no source run in MLflow" in refused.stderr


def test_digest_of_a_registered_version_is_what_serving_loads(fresh_mlflow, tmp_path):
    """`evidence digest models:/… --mlflow` hashes the storage location, not a models:/ download
    (which adds registered_model_meta and so has another digest)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=fresh_mlflow.url, registry_uri=fresh_mlflow.url)
    run_id = client.create_run(client.create_experiment("digest")).info.run_id
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    (model_dir / "model.pkl").write_bytes(b"\x80\x04weights" * 100)
    client.log_artifacts(run_id, str(model_dir), "model")
    client.create_registered_model("digested")
    version = client.create_model_version("digested", f"runs:/{run_id}/model", run_id=run_id).version
    ref = f"models:/digested/{version}"

    stored = run_cli("evidence", "digest", ref, "--mlflow", fresh_mlflow.url)
    assert stored.code == 0, stored.stderr
    local = run_cli("evidence", "digest", str(model_dir))
    assert stored.stdout == local.stdout  # the same files as were logged
    assert "the storage location of " + ref in stored.stderr
    previous = mlflow.get_registry_uri()
    mlflow.set_registry_uri(fresh_mlflow.url)  # a models:/ download asks the registry (not a parameter)
    try:
        downloaded = Path(mlflow.artifacts.download_artifacts(artifact_uri=ref, dst_path=str(tmp_path / "dl"),
                                                              tracking_uri=fresh_mlflow.url))
    finally:
        mlflow.set_registry_uri(previous)
    assert (downloaded / "registered_model_meta").exists()
    assert run_cli("evidence", "digest", str(downloaded)).stdout != stored.stdout

    missing = run_cli("evidence", "digest", "models:/digested/99", "--mlflow", fresh_mlflow.url)
    assert missing.code == 2 and missing.stderr.count("\n") == 1 and "models:/digested/99" in missing.stderr
    no_url = run_cli("evidence", "digest", ref)
    assert no_url.stderr == f"gatekeeper: {ref} is a registry reference: add --mlflow URL to fetch it\n"
