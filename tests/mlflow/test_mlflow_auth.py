"""Registry credentials from the environment; a read-only account is enough for the gate."""

from __future__ import annotations

import uuid

import httpx
import pytest
import yaml

from ..conftest import run_cli
from .registry import DataScientist, inference_service, only_decision, violations, write_manifest
from .server import MlflowServer

ADMIN = ("admin", "admin-password-0123")
READER = ("reader", "reader-password-0123")


@pytest.fixture(scope="module")
def secured(tmp_path_factory, trust):
    """A basic-auth MLflow where nobody may read by default; a compliant version logged by the admin;
    `reader` granted READ on that model and its experiment, nothing else."""
    server = MlflowServer(tmp_path_factory.mktemp("secured"), basic_auth=ADMIN)
    try:
        yield from _secured(server, trust, tmp_path_factory)
    finally:
        server.stop()  # also when setting up failed


def _secured(server, trust, tmp_path_factory):
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot start mlflow server with basic auth: {exc}", pytrace=False)
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN[0])  # the MLflow client of the data scientist
    patch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN[1])
    try:
        scientist = DataScientist(server.url, trust, tmp_path_factory.mktemp("secured-work"))
        version = scientist.train(f"fraud-{uuid.uuid4().hex[:8]}")
        grant = f"{server.url}/api/3.0/mlflow/users/permissions/grant"
        for url, body in [
            (f"{server.url}/api/2.0/mlflow/users/create", {"username": READER[0], "password": READER[1]}),
            (grant, {"username": READER[0], "resource_type": "registered_model", "resource_id": version.model,
                     "permission": "READ"}),
            (grant, {"username": READER[0], "resource_type": "experiment", "resource_id": scientist.experiment,
                     "permission": "READ"}),
        ]:
            answer = httpx.post(url, json=body, auth=ADMIN, timeout=10)
            assert answer.status_code == 200, answer.text
    finally:
        patch.undo()
    yield server, version


def check(server, trust_opa, manifest, user: str | None, password: str | None):
    env = {"MLFLOW_TRACKING_USERNAME": user or "", "MLFLOW_TRACKING_PASSWORD": password or ""}
    return run_cli("check", "--mlflow", server.url, "--opa-url", trust_opa, "--format", "json", str(manifest),
                   env=env)


def test_read_only_account_is_enough(secured, trust_opa, tmp_path):
    server, version = secured
    manifest = write_manifest(tmp_path, inference_service(f"{version.ref}", version.storage_uri))
    result = check(server, trust_opa, manifest, *READER)
    assert result.code == 0, result.stdout + result.stderr
    assert only_decision(result.json())["allowed"] is True


@pytest.mark.parametrize("user, password, status", [(None, None, 401), ("reader", "wrong", 401)])
def test_refused_credentials_are_evidence_unavailable(secured, trust_opa, tmp_path, user, password, status):
    server, version = secured
    manifest = write_manifest(tmp_path, inference_service(version.ref, version.storage_uri))
    result = check(server, trust_opa, manifest, user, password)
    assert result.code == 2
    assert f"{server.url} refused the credentials (HTTP {status})" in result.stderr
    decision = only_decision(result.json())
    assert decision["allowed"] is False and violations(decision) == {"evidence.unavailable"}


def test_publishing_needs_write_access(secured, tmp_path):
    server, version = secured
    (tmp_path / "evidence.yaml").write_text(yaml.safe_dump({
        "apiVersion": "model-gatekeeper.io/v1", "kind": "EvidenceBundle", "model": version.model,
        "version": version.version, "risk_class": "minimal"}))
    result = run_cli("evidence", "publish", str(tmp_path), "--mlflow", server.url,
                     env={"MLFLOW_TRACKING_USERNAME": READER[0], "MLFLOW_TRACKING_PASSWORD": READER[1]})
    assert result.code == 2
    assert f"{server.url} refused the credentials (HTTP 403)" in result.stderr
