"""Measured evidence (`gatekeeper evidence data-quality|drift|pii`) published to a real MLflow
and decided from there: `evidence publish`, then `check --mlflow`."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid

import yaml
from mlflow import MlflowClient

from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource
from gatekeeper.types.decision import ModelRef

from ..conftest import EVIDENCE, run_cli
from ..producers.data import ge_result, loans
from .registry import inference_service, only_decision, violations, write_manifest
from .trust import reviewed_evidence


def registered_bundle(client: MlflowClient, trust, tmp_path, name: str):
    """A registered version and its bundle folder: the compliant example, to be signed off (sign_off)."""
    client.create_registered_model(name) if not client.search_registered_models(f"name = '{name}'") else None
    run = client.create_run(client.create_experiment(f"{name}-{uuid.uuid4().hex[:6]}"))
    storage = f"s3://models/{name}/{run.info.run_id}"
    version = client.create_model_version(name, storage, run_id=run.info.run_id).version
    folder = tmp_path / name / str(version)
    shutil.copytree(EVIDENCE / "credit-scoring" / "3", folder)
    raw = yaml.safe_load((folder / "evidence.yaml").read_text())
    raw.update(model=name, version=str(version), artifact={**raw["artifact"], "uri": storage})
    (folder / "evidence.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder, f"models:/{name}/{version}", storage


def sign_off(trust, folder, url: str) -> None:
    """The test signers sign the version off as MLflow holds it now (the evidence they reviewed)."""
    raw = yaml.safe_load((folder / "evidence.yaml").read_text())
    model = ModelRef(ref=f"models:/{raw['model']}/{raw['version']}", name=raw["model"], version=raw["version"])
    reviewed = reviewed_evidence(asyncio.run(MlflowEvidenceSource(url).load(model)))
    for role, who in (("validator", "vera@example.com"), ("compliance", "cora@example.com")):
        (folder / "signoffs" / f"{role}.dsse.json").write_bytes(trust.signoff(
            who, model=raw["model"], version=raw["version"], role=role, digest=raw["artifact"]["digest"],
            reviewed=reviewed))


def produce(folder, tmp_path, *, failing: bool) -> None:
    frame = loans()
    if failing:
        frame.loc[:4, "income"] = None
    (tmp_path / "validation.json").write_text(json.dumps(ge_result(frame, age_max=65 if failing else 120)))
    loans(seed=1).to_csv(tmp_path / "reference.csv", index=False)
    loans(seed=2, shift=("income", "bureau_score", "age") if failing else ()).to_csv(tmp_path / "current.csv",
                                                                                     index=False)
    for args in (["data-quality", "--great-expectations", str(tmp_path / "validation.json")],
                 ["drift", "--reference", str(tmp_path / "reference.csv"), "--current", str(tmp_path / "current.csv")]):
        done = run_cli("evidence", *args, "--bundle", str(folder))
        assert done.code == 0, done.stderr


def test_measured_evidence_round_trips_through_mlflow(mlflow_server, trust, check, tmp_path):
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    name = f"loans-scorer-{uuid.uuid4().hex[:8]}"
    decided = {}
    for case in ("passing", "failing"):
        folder, ref, storage = registered_bundle(client, trust, tmp_path / case, name)
        produce(folder, tmp_path / case, failing=case == "failing")
        published = run_cli("evidence", "publish", str(folder), "--mlflow", mlflow_server.url)
        assert published.code == 0, published.stderr
        sign_off(trust, folder, mlflow_server.url)  # then publish the sign-offs with the evidence they cover
        published = run_cli("evidence", "publish", str(folder), "--mlflow", mlflow_server.url)
        assert published.code == 0, published.stderr
        assert "gatekeeper/data-quality.json" in published.stdout and "gatekeeper/drift.json" in published.stdout
        # What MLflow gives back is what the bundle holds.
        model = ModelRef(ref=ref, name=name, version=folder.name)
        back = asyncio.run(MlflowEvidenceSource(mlflow_server.url).load(model)).bundle
        local = asyncio.run(FileEvidenceSource(folder.parents[1]).load(model)).bundle
        assert back.data_quality == local.data_quality and back.drift == local.drift
        assert back.pii_scan == local.pii_scan
        manifest = write_manifest(tmp_path / case / "manifests", inference_service(ref, storage, name=f"{case}-scorer"))
        result = check(manifest)
        assert result.code in (0, 1), result.stderr
        decided[case] = only_decision(result.json())
    assert decided["passing"]["allowed"] is True, decided["passing"]["violations"]
    assert violations(decided["failing"]) == {"data_quality.success_percent", "drift.drift_share"}
    messages = {v["requirement"]: v["message"] for v in decided["failing"]["violations"]}
    assert "failed: expect_column_values_to_not_be_null(income)" in messages["data_quality.success_percent"]
    assert "drifted columns" in messages["drift.drift_share"] and "bureau_score" in messages["drift.drift_share"]
