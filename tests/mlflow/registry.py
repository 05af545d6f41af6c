"""A data scientist at work: logs and registers models with the real MLflow client,
following docs/mlflow.md, and writes the manifests that deploy them."""

from __future__ import annotations

import json
import tempfile
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.data
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, RunTag

from gatekeeper.evidence.signing.digest import model_digest

from .trust import Trust, reviewed_evidence

MODEL_CARD = """# {model} model card

## Intended use
Flags card transactions for manual fraud review; an analyst decides every case.

## Limitations
Not validated for business accounts or transactions outside the EU.

## Training data
Card transactions 2024-2026 (transactions-2026q3), pseudonymised.

## Evaluation
AUC 0.87 on the 2026 Q3 hold-out; fairness by sex reviewed below.

## Ethics
Sex is used only to measure fairness, never as a model input.
"""


@dataclass
class Version:
    model: str
    version: str
    run_id: str
    storage_uri: str
    digest: str

    @property
    def ref(self) -> str:
        return f"models:/{self.model}/{self.version}"


class DataScientist:
    def __init__(self, url: str, trust: Trust, workdir: Path) -> None:
        self.url = url
        self.client = MlflowClient(tracking_uri=url, registry_uri=url)
        self.trust = trust
        self.workdir = workdir
        name = "gatekeeper-tests"
        found = self.client.get_experiment_by_name(name)
        self.experiment = found.experiment_id if found else self.client.create_experiment(name)

    # --- training run and registration -------------------------------------------------------

    def train(self, model: str, *, fairness_ratio: float = 0.91, open_findings: int = 0, drift: str = "enabled",
              signoffs: tuple[str, ...] = ("validator", "compliance"), owner: str = "omar@example.com",
              risk_class: str = "high", run_tags: dict[str, str] | None = None) -> Version:
        """A run with metrics, a dataset, evidence artifacts; a registered version with tags and sign-offs."""
        run = self.client.create_run(self.experiment, tags={"mlflow.source.git.commit": "9e2d" + "0" * 36,
                                                             **(run_tags or {})})
        run_id = run.info.run_id
        self.client.log_batch(run_id, metrics=[
            Metric("performance.auc", 0.87, 0, 0),
            Metric("fairness.sex.demographic_parity_ratio", fairness_ratio, 0, 0),
            Metric("fairness.sex.demographic_parity_difference", 0.04, 0, 0),
            Metric("fairness.sex.equalized_odds_difference", 0.05, 0, 0),
            Metric("fairness.sex.min_group_size", 1200, 0, 0),
            Metric("train_loss", 0.31, 0, 0),  # not evidence: ignored by the gate
        ], tags=[RunTag("gatekeeper.explainability.method", "shap"),
                 RunTag("gatekeeper.explainability.report", "shap-importance.json")])
        frame = pd.DataFrame({"amount": [12.5, 80.0, 3.2], "label": [0.0, 1.0, 0.0]})
        with warnings.catch_warnings():  # MLflow's own pandas deprecation noise
            warnings.simplefilter("ignore")
            dataset = mlflow.data.from_pandas(frame, source="s3://data/transactions-2026q3.parquet",
                                              name="transactions-2026q3")
        self.client.log_inputs(run_id, [DatasetInput(Dataset(**dataset.to_dict()),
                                                     [InputTag("mlflow.data.context", "training")])])
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "gatekeeper"
            folder.mkdir()
            (folder / "model-card.md").write_text(MODEL_CARD.format(model=model))
            (folder / "shap-importance.json").write_text(json.dumps({"amount": 0.61, "merchant": 0.22}))
            (folder / "pii-scan.json").write_text(json.dumps({
                "tool": "presidio", "scanned_at": "2026-10-01T00:00:00Z", "open_findings": open_findings,
                "dataset_digest": dataset.digest}))
            (folder / "fairness.json").write_text(json.dumps({  # what metrics cannot carry (`evidence fairness`)
                "sex": {"favourable_outcome": "0", "evaluated_at": "2026-10-01T00:00:00Z"}}))
            (folder / "data-quality.json").write_text(json.dumps({  # `gatekeeper evidence data-quality`
                "suite": "transactions", "success": True, "success_percent": 100.0, "evaluated_expectations": 8,
                "failed": [], "evaluated_at": "2026-10-01T00:00:00Z"}))
            self.client.log_artifacts(run_id, str(folder), "gatekeeper")
        self.client.set_terminated(run_id)

        # The model files as they would be deployed, and their digest (`gatekeeper evidence digest`).
        model_dir = self.workdir / "models" / run_id
        model_dir.mkdir(parents=True)
        (model_dir / "MLmodel").write_text(f"run_id: {run_id}\n")
        (model_dir / "model.pkl").write_bytes(uuid.uuid4().bytes * 64)
        digest = model_digest(model_dir)

        if not self.client.search_registered_models(filter_string=f"name = '{model}'"):
            self.client.create_registered_model(model, tags={"gatekeeper.owner": owner,
                                                             "gatekeeper.risk_class": risk_class})
        storage_uri = f"s3://models/{model}/{run_id}"
        mv = self.client.create_model_version(model, storage_uri, run_id=run_id, tags={
            "gatekeeper.artifact.digest": digest,
            "gatekeeper.monitoring.drift": drift,
            "gatekeeper.monitoring.dashboard": f"https://grafana.example.com/d/{model}",
        })
        version = Version(model=model, version=str(mv.version), run_id=run_id, storage_uri=storage_uri, digest=digest)
        people = {"validator": "vera@example.com", "compliance": "cora@example.com", "owner": owner}
        reviewed = self.reviewed(version) if signoffs else {}
        for role in signoffs:
            self.upload(version, f"signoffs/{role}.dsse.json", self.trust.signoff(
                people[role], model=model, version=version.version, role=role, digest=digest, reviewed=reviewed))
        return version

    def reviewed(self, version: Version) -> dict[str, Any]:
        """What a signer reviews of the version's evidence as the gate reads it from MLflow now."""
        import asyncio

        from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource
        from gatekeeper.types.decision import ModelRef

        async def load() -> Any:
            source = MlflowEvidenceSource(self.url, timeout=10.0)
            try:
                return await source.load(ModelRef(ref=version.ref, name=version.model, version=version.version))
            finally:
                await source.close()

        return reviewed_evidence(asyncio.run(load()))

    def upload(self, version: Version, path: str, content: bytes) -> None:
        """Put one file into the run's evidence folder (gatekeeper/<path>)."""
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(path).name
            target.write_bytes(content)
            folder = "gatekeeper/" + str(Path(path).parent) if Path(path).parent != Path(".") else "gatekeeper"
            self.client.log_artifact(version.run_id, str(target), folder)

    def set_alias(self, model: str, alias: str, version: Version) -> None:
        self.client.set_registered_model_alias(model, alias, version.version)

    def tag_version(self, version: Version, key: str, value: str) -> None:
        self.client.set_model_version_tag(version.model, version.version, key, value)


def inference_service(ref: str, storage_uri: str | None, name: str = "scorer") -> dict[str, Any]:
    model: dict[str, Any] = {"modelFormat": {"name": "sklearn"}}
    if storage_uri:
        model["storageUri"] = storage_uri
    return {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "payments", "annotations": {"model-gatekeeper.io/model": ref}},
        "spec": {"predictor": {"model": model}},
    }


def write_manifest(folder: Path, obj: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{obj['metadata']['name']}-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(obj))
    return path


def violations(decision: dict[str, Any]) -> set[str]:
    return {v["requirement"] for v in decision["violations"]}


def only_decision(report: dict[str, Any]) -> dict[str, Any]:
    [decision] = report["results"]
    return decision
