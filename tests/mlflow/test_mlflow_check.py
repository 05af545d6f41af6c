"""`gatekeeper check --mlflow`: evidence read from a real MLflow registry, decided by a real OPA."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from mlflow import MlflowClient

from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource
from gatekeeper.evidence.mlflow.publish import publish_bundle
from gatekeeper.types.decision import ModelRef
from gatekeeper.opa.server import free_port

from ..conftest import EVIDENCE, MANIFESTS, run_cli
from .registry import DataScientist, inference_service, only_decision, violations, write_manifest
from .trust import tamper

EXAMPLE_VERSIONS = range(1, 13)  # credit-scoring 1..12; the examples hold bundles for 3..12


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def credit_scoring(mlflow_server) -> MlflowClient:
    """credit-scoring versions 1..12 registered from their example artifacts, 3..12 published."""
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    experiment = client.create_experiment("credit-scoring")
    client.create_registered_model("credit-scoring")
    for number in EXAMPLE_VERSIONS:
        run = client.create_run(experiment)
        client.create_model_version("credit-scoring", f"s3://models/credit-scoring/{number}", run_id=run.info.run_id)
        if (EVIDENCE / "credit-scoring" / str(number)).is_dir():
            publish_bundle(EVIDENCE / "credit-scoring" / str(number), mlflow_server.url)
    return client


async def read_back_from(url: str, ref: ModelRef):
    async with MlflowEvidenceSource(url) as source:
        return await source.load(ref)


def comparable(decision: dict) -> dict:
    keep = ("object", "environment", "allowed", "enforcement", "models", "violations", "waived", "warnings", "error")
    return {key: decision.get(key) for key in keep}


# --- publishing: what MLflow gives back is what the file source gives -----------------------


def test_published_examples_get_the_file_sources_decisions(credit_scoring, mlflow_server, trust, tmp_path):
    # The registry's lineage is its own runs' (a run ID MLflow chose, not the example's), so
    # the example sign-offs, which cover the examples' lineage, are compared under a matrix
    # whose sign-offs do not review lineage; every other section must read the same.
    policies = tmp_path / "policies"
    shutil.copytree(trust.policy_dir, policies)
    matrix = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix.write_text(matrix.read_text().replace("default: {reviews_all_but: [drift],",
                                                 "default: {reviews_all_but: [drift, lineage],", 1))
    manifests = [MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml",
                 *sorted((MANIFESTS / "noncompliant").iterdir())]
    common = ("check", "--policy-dir", str(policies), "--format", "json")
    from_mlflow = run_cli(*common, "--mlflow", mlflow_server.url, *map(str, manifests))
    from_files = run_cli(*common, "--evidence", str(EVIDENCE), *map(str, manifests))
    assert from_mlflow.code == from_files.code == 1, from_mlflow.stderr
    mlflow_results = from_mlflow.json()["results"]
    by_name = {d["object"]["name"]: d for d in mlflow_results}
    files_by_name = {d["object"]["name"]: d for d in from_files.json()["results"]}
    assert sorted(by_name) == sorted(files_by_name)
    # fraud-detector is in neither store; only the wording of "not found" differs.
    assert violations(by_name.pop("fraud-detector")) == violations(files_by_name.pop("fraud-detector")) == {
        "evidence.missing"}
    assert {n: comparable(d) for n, d in by_name.items()} == {n: comparable(d) for n, d in files_by_name.items()}
    assert by_name["credit-scoring"]["allowed"] is True
    assert violations(by_name["credit-scoring-v4"]) == {"fairness.demographic_parity_ratio"}
    assert violations(by_name["credit-scoring-wrong-artifact"]) == {"artifact.storage_uri_mismatch"}


def test_publish_command_round_trips_the_bundle(credit_scoring, mlflow_server):
    result = run_cli("evidence", "publish", str(EVIDENCE / "credit-scoring" / "3"), "--mlflow", mlflow_server.url,
                     "--model", "credit-scoring", "--version", "3")
    assert result.code == 0, result.stderr
    assert f"published credit-scoring version 3 to {mlflow_server.url}" in result.stdout
    assert "gatekeeper/signoffs/validator.dsse.json" in result.stdout
    # The registry keeps its own run: the bundle's run id is not taken over, and the user is told.
    assert "lineage.run_id cb20bb32e5816342fa25f820f16e8142 is not kept" in result.stderr

    ref = ModelRef(ref="models:/credit-scoring/3", name="credit-scoring", version="3")
    from_mlflow = asyncio.run(read_back_from(mlflow_server.url, ref))
    from_files = asyncio.run(FileEvidenceSource(EVIDENCE).load(ref))
    read_back = from_mlflow.bundle.model_dump(mode="json", exclude_none=True)
    original = from_files.bundle.model_dump(mode="json", exclude_none=True)
    assert read_back["lineage"].pop("run_id") != original["lineage"].pop("run_id")
    assert sorted(read_back.pop("signoffs")) == sorted(original.pop("signoffs"))  # listed in path order
    assert read_back == original
    assert from_mlflow.files == from_files.files


def test_publish_refuses_a_bundle_for_another_artifact(credit_scoring, mlflow_server, tmp_path):
    bundle = tmp_path / "3"
    shutil.copytree(EVIDENCE / "credit-scoring" / "3", bundle)
    data = yaml.safe_load((bundle / "evidence.yaml").read_text())
    data["artifact"]["uri"] = "s3://elsewhere/credit-scoring"
    (bundle / "evidence.yaml").write_text(yaml.safe_dump(data))
    result = run_cli("evidence", "publish", str(bundle), "--mlflow", mlflow_server.url)
    assert result.code == 2
    assert "MLflow stores credit-scoring version 3 at s3://models/credit-scoring/3" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_publish_needs_a_registered_version(credit_scoring, mlflow_server, tmp_path):
    bundle = tmp_path / "99"
    shutil.copytree(EVIDENCE / "credit-scoring" / "3", bundle)
    data = yaml.safe_load((bundle / "evidence.yaml").read_text())
    data["version"] = "99"
    (bundle / "evidence.yaml").write_text(yaml.safe_dump(data))
    result = run_cli("evidence", "publish", str(bundle), "--mlflow", mlflow_server.url)
    assert result.code == 2 and "register the model version first" in result.stderr
    mismatch = run_cli("evidence", "publish", str(EVIDENCE / "credit-scoring" / "3"), "--mlflow", mlflow_server.url,
                       "--version", "4")
    assert mismatch.code == 2 and "describes credit-scoring version 3, not credit-scoring version 4" in mismatch.stderr


# --- evidence logged the way docs/mlflow.md says --------------------------------------------


def test_version_logged_by_the_convention_is_admitted(scientist: DataScientist, check, tmp_path):
    version = scientist.train(unique("fraud"))
    result = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert result.code == 0, result.stdout + result.stderr
    decision = only_decision(result.json())
    assert decision["allowed"] and decision["violations"] == []
    assert decision["models"] == [{"ref": version.ref, "name": version.model, "version": version.version,
                                   "risk_class": "high"}]


def test_alias_moved_to_a_noncompliant_version_is_denied(scientist: DataScientist, check, tmp_path):
    model = unique("fraud")
    good = scientist.train(model)
    unfair = scientist.train(model, fairness_ratio=0.62)
    scientist.set_alias(model, "champion", good)
    # The manifest follows the alias for its evidence and names the artifact it was written for.
    manifest = write_manifest(tmp_path, inference_service(f"models:/{model}@champion", good.storage_uri))
    admitted = check(manifest)
    assert admitted.code == 0, admitted.stdout
    assert only_decision(admitted.json())["models"][0]["version"] == good.version

    scientist.set_alias(model, "champion", unfair)
    denied = check(manifest)
    assert denied.code == 1
    decision = only_decision(denied.json())
    assert decision["models"][0]["version"] == unfair.version
    # the version the alias now names fails fairness, and its artifact is not the one deployed
    assert violations(decision) == {"fairness.demographic_parity_ratio", "artifact.storage_uri_mismatch"}
    [violation] = [v for v in decision["violations"] if v["requirement"].startswith("fairness.")]
    assert violation["observed"] == 0.62 and violation["threshold"] == 0.8


def test_a_sign_off_created_from_mlflow_covers_what_mlflow_holds(scientist: DataScientist, trust, check, tmp_path,
                                                                  mlflow_server, trust_opa):
    version = scientist.train(unique("fraud"), signoffs=("compliance",))
    out = tmp_path / "validator.dsse.json"
    made = run_cli("signoff", "create", "--model", version.model, "--version", version.version, "--role", "validator",
                   "--key", str(trust.key_files["vera@example.com"]), "--mlflow", mlflow_server.url,
                   "--opa-url", trust_opa, "--out", str(out))
    assert made.code == 0, made.stderr
    scientist.upload(version, "signoffs/validator.dsse.json", out.read_bytes())
    manifest = write_manifest(tmp_path, inference_service(version.ref, version.storage_uri))
    assert check(manifest).code == 0
    scientist.tag_version(version, "gatekeeper.monitoring.dashboard", "https://grafana.example.com/d/elsewhere")
    result = check(manifest)
    assert result.code == 1
    assert violations(only_decision(result.json())) == {"signoff.role"}
    assert "evidence changed since signing: monitoring" in only_decision(result.json())["violations"][0]["message"]


def test_tampered_signoff_is_rejected(scientist: DataScientist, trust, check, tmp_path):
    version = scientist.train(unique("fraud"), signoffs=("compliance",))
    genuine = trust.signoff("vera@example.com", model=version.model, version=version.version, role="validator",
                            digest=version.digest, reviewed=scientist.reviewed(version))
    scientist.upload(version, "signoffs/validator.dsse.json", tamper(genuine, comment="approved without review"))
    result = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert result.code == 1
    decision = only_decision(result.json())
    assert violations(decision) == {"signoff.role"}
    [violation] = decision["violations"]
    assert violation["threshold"] == "validator"
    assert "signoffs/validator.dsse.json" in violation["message"] and "signature not valid" in violation["message"]


def test_signoffs_are_bound_to_the_artifact_digest(scientist: DataScientist, check, tmp_path):
    version = scientist.train(unique("fraud"))
    # The artifact was rebuilt: its digest changed, the sign-offs still name the old one.
    scientist.tag_version(version, "gatekeeper.artifact.digest", "sha256:" + "0" * 64)
    result = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert result.code == 1
    decision = only_decision(result.json())
    assert violations(decision) == {"signoff.role"}
    assert all("subject digest does not match artifact digest sha256:" + "0" * 64 in v["message"]
               for v in decision["violations"])


def test_workload_serving_another_artifact_is_denied(scientist: DataScientist, check, tmp_path):
    version = scientist.train(unique("fraud"))
    result = check(write_manifest(tmp_path, inference_service(version.ref, "s3://models/someone-else/1")))
    assert result.code == 1
    [violation] = only_decision(result.json())["violations"]
    assert violation["requirement"] == "artifact.storage_uri_mismatch"
    assert (violation["observed"], violation["threshold"]) == ("s3://models/someone-else/1", version.storage_uri)


def test_waiver_is_honoured_until_it_expires(scientist: DataScientist, trust, check, tmp_path):
    version = scientist.train(unique("fraud"), fairness_ratio=0.62)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    scientist.upload(version, "waivers/fairness.dsse.json", trust.waiver(
        "cora@example.com", model=version.model, versions=[version.version],
        requirement="fairness.demographic_parity_ratio", digest=version.digest, expires_at=expires))
    manifest = write_manifest(tmp_path, inference_service(version.ref, version.storage_uri))
    honoured = check(manifest)
    assert honoured.code == 0, honoured.stdout + honoured.stderr
    decision = only_decision(honoured.json())
    assert decision["violations"] == []
    [waived] = decision["waived"]
    assert waived["requirement"] == "fairness.demographic_parity_ratio"
    assert waived["waiver"] == "waivers/fairness.dsse.json"
    assert waived["waiver_reason"] == "accepted by the credit committee"
    assert any("waived by waivers/fairness.dsse.json until" in w for w in decision["warnings"])

    # A second after the expiry, as `check --at` sees it (CI asking: does this promotion survive next month?).
    expired = check(manifest, "--at", (expires + timedelta(seconds=1)).isoformat())
    assert expired.code == 1
    decision = only_decision(expired.json())
    assert violations(decision) == {"fairness.demographic_parity_ratio"} and decision["waived"] == []
    assert (f"[fairness.demographic_parity_ratio] {version.model}@{version.version}: waiver at "
            f"waivers/fairness.dsse.json expired on {expires.isoformat().replace('+00:00', 'Z')}") in decision["warnings"]


def test_a_layer_can_raise_the_risk_class_but_never_lower_it(scientist: DataScientist, check, tmp_path):
    model = unique("fraud")
    version = scientist.train(model, run_tags={"gatekeeper.risk_class": "minimal"})
    lowered = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert only_decision(lowered.json())["models"][0]["risk_class"] == "high"
    scientist.tag_version(version, "gatekeeper.risk_class", "prohibited")
    raised = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    decision = only_decision(raised.json())
    assert raised.code == 1 and decision["models"][0]["risk_class"] == "prohibited"
    assert violations(decision) == {"classification.prohibited"}


def test_a_version_without_evidence_is_missing(scientist: DataScientist, check, tmp_path):
    client = scientist.client
    model = unique("bare")
    run = client.create_run(scientist.experiment)
    client.create_registered_model(model)
    client.create_model_version(model, f"s3://models/{model}/1", run_id=run.info.run_id)
    manifests = [write_manifest(tmp_path, inference_service(f"models:/{model}/1", None, name="bare")),
                 write_manifest(tmp_path, inference_service(f"models:/{model}/7", None, name="no-version")),
                 write_manifest(tmp_path, inference_service(f"models:/{model}@champion", None, name="no-alias"))]
    result = check(*manifests)
    assert result.code == 1, result.stderr
    decisions = {d["object"]["name"]: d for d in result.json()["results"]}
    for name, words in [("bare", "MLflow has no gatekeeper evidence"), ("no-version", "has no version 7"),
                        ("no-alias", "has no alias 'champion'")]:
        [violation] = decisions[name]["violations"]
        assert violation["requirement"] == "evidence.missing" and words in violation["message"], violation
    # an alias that did not resolve has no version: the line names the model alone, never "name@"
    assert decisions["no-alias"]["violations"][0]["line"].startswith(f"[evidence.missing] {model}: ")


def test_a_tag_outside_the_convention_is_unreadable(scientist: DataScientist, check, tmp_path):
    version = scientist.train(unique("fraud"))
    scientist.tag_version(version, "gatekeeper.risk-class", "high")
    result = check(write_manifest(tmp_path, inference_service(version.ref, version.storage_uri)))
    assert result.code == 2
    assert "tag 'gatekeeper.risk-class' on the model version is not part of the evidence convention" in result.stderr
    [violation] = only_decision(result.json())["violations"]
    assert violation["requirement"] == "evidence.unreadable"


def test_registry_down_is_evidence_unavailable(check, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = check(write_manifest(tmp_path, inference_service("models:/fraud/1", None)), mlflow=dead)
    assert result.code == 2
    assert f"evidence source mlflow is unavailable: cannot reach {dead}" in result.stderr
    decision = only_decision(result.json())
    assert decision["allowed"] is False
    assert violations(decision) == {"evidence.unavailable"}
    assert time.monotonic() - started < 30
