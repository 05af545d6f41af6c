"""The webhook (`gatekeeper serve --mlflow`) with a real MLflow: caching, moves, budgets.

The evidence TTL and waiver expiry are tested in process with a clock the test moves
(test_mlflow_pipeline.py)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from ..webhook.server import GateProcess, review
from .registry import DataScientist, inference_service
from .server import MlflowServer

BUDGET = 3.0  # the webhook's default response budget


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def gate(mlflow_server, trust, tmp_path_factory):
    # The default evidence TTL (30 s): what these tests see at once is not a TTL running out.
    process = GateProcess(tmp_path_factory.mktemp("gate"), "--mlflow", mlflow_server.url,
                          "--policy-dir", str(trust.policy_dir)).start()
    yield process
    process.stop()


def admit(gate: GateProcess, ref: str, storage_uri: str | None = None, environment: str = "production") -> tuple[dict, float]:
    started = time.monotonic()
    answer = httpx.post(f"{gate.url}/validate/{environment}", json=review(inference_service(ref, storage_uri)),
                        timeout=10)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    return answer.json()["response"], elapsed


def message(response: dict) -> str:
    return (response.get("status") or {}).get("message", "")


def test_compliant_version_admitted_and_alias_move_denied_at_once(gate, scientist: DataScientist):
    model = unique("fraud")
    good = scientist.train(model)
    unfair = scientist.train(model, fairness_ratio=0.62)
    scientist.set_alias(model, "champion", good)
    response, _ = admit(gate, f"models:/{model}@champion", good.storage_uri)
    assert response["allowed"] is True, message(response)
    response, _ = admit(gate, good.ref, good.storage_uri)
    assert response["allowed"] is True

    # Both versions' evidence is cached now; the alias is not, so the move counts at once.
    admit(gate, unfair.ref)
    scientist.set_alias(model, "champion", unfair)
    response, _ = admit(gate, f"models:/{model}@champion", unfair.storage_uri)
    assert response["allowed"] is False
    assert (f"[fairness.demographic_parity_ratio] {model}@{unfair.version}: demographic parity ratio for 'sex' "
            "is 0.62, below 0.8") in message(response)


def test_tag_set_on_a_version_is_seen_through_its_alias_at_once(gate, scientist: DataScientist):
    model = unique("fraud")
    version = scientist.train(model)
    scientist.set_alias(model, "champion", version)
    response, _ = admit(gate, f"models:/{model}@champion", version.storage_uri)
    assert response["allowed"] is True, message(response)
    scientist.tag_version(version, "gatekeeper.monitoring.drift", "disabled")
    response, _ = admit(gate, f"models:/{model}@champion", version.storage_uri)
    assert response["allowed"] is False
    assert f"[monitoring.required] {model}@{version.version}:" in message(response)


def test_a_burst_for_one_version_makes_one_registry_request(gate, scientist: DataScientist, mlflow_server):
    version = scientist.train(unique("fraud"))
    body = review(inference_service(version.ref, version.storage_uri))
    # The scientist's own reads (signing what MLflow holds) come before: count the gate's only.
    before = len(mlflow_server.log.read_text().splitlines())

    async def burst() -> list[bool]:
        async with httpx.AsyncClient(timeout=10) as client:
            answers = await asyncio.gather(*(client.post(f"{gate.url}/validate/production", json=body)
                                             for _ in range(20)))
        return [a.json()["response"]["allowed"] for a in answers]

    assert asyncio.run(burst()) == [True] * 20
    lookups = [line for line in mlflow_server.log.read_text().splitlines()[before:]
               if f"model-versions/get?name={version.model}&version={version.version} " in line]
    assert len(lookups) == 1, lookups


def test_hung_registry_denies_within_the_budget(gate, scientist: DataScientist, mlflow_server):
    version = scientist.train(unique("fraud"))  # registered, never looked up: nothing cached
    mlflow_server.pause()
    try:
        response, elapsed = admit(gate, version.ref, version.storage_uri)
        staging, staging_elapsed = admit(gate, version.ref, version.storage_uri, environment="staging")
    finally:
        mlflow_server.resume()
    assert response["allowed"] is False and elapsed < BUDGET
    assert f"[evidence.unavailable] {version.model}@{version.version}: evidence source mlflow" in message(response)
    assert "did not answer within 1s" in message(response)
    assert staging["allowed"] is True and staging_elapsed < BUDGET
    assert any("[evidence.unavailable]" in w for w in staging.get("warnings") or [])
    # The registry is back: the version is admitted (failures are never cached).
    response, _ = admit(gate, version.ref, version.storage_uri)
    assert response["allowed"] is True, message(response)


def test_stopped_registry_denies_within_the_budget(trust, tmp_path):
    registry = MlflowServer(tmp_path / "mlflow")
    try:
        registry.start()
    except RuntimeError as exc:
        pytest.fail(f"cannot start mlflow server: {exc}", pytrace=False)
    gate = None
    try:
        scientist = DataScientist(registry.url, trust, tmp_path / "work")
        model = unique("fraud")
        cached = scientist.train(model)
        never_seen = scientist.train(model)
        scientist.set_alias(model, "champion", cached)
        gate = GateProcess(tmp_path, "--mlflow", registry.url, "--policy-dir", str(trust.policy_dir),
                           env={"GATEKEEPER_EVIDENCE_CACHE_TTL": "60"}).start()
        response, _ = admit(gate, f"models:/{model}@champion", cached.storage_uri)
        assert response["allowed"] is True, message(response)

        registry.stop()
        for ref in (f"models:/{model}@champion", never_seen.ref):
            response, elapsed = admit(gate, ref)
            assert response["allowed"] is False and elapsed < BUDGET
            assert "[evidence.unavailable]" in message(response)
            assert f"evidence source mlflow is unavailable: cannot reach {registry.url}" in message(response)
        # Evidence already read for a version keeps answering until its TTL runs out.
        response, _ = admit(gate, cached.ref, cached.storage_uri)
        assert response["allowed"] is True, message(response)
    finally:
        if gate is not None:
            gate.stop()
        registry.stop()
