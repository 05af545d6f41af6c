"""EvidenceLookup with the real file source and a clock the test moves: TTLs without sleeping,
failures never cached; and what it finds makes an input document OPA decides on."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from gatekeeper.evidence.files import FileEvidenceSource
from gatekeeper.evidence.lookup import EvidenceLookup
from gatekeeper.evidence.signing.trust import TrustStore
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.types.decision import ModelRef, ObjectRef
from gatekeeper.types.policy_input import PolicyInput, model_entry, policy_input

from .clock import FakeClock
from .conftest import EVIDENCE, POLICIES

TTL = 30.0


def ref(name: str, version: str | None = None, alias: str | None = None) -> ModelRef:
    uri = f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"
    return ModelRef(ref=uri, name=name, version=version, alias=alias)


def lookup_of(root: Path, **options) -> EvidenceLookup:
    """A lookup verifying signatures against the example signers, as the gate does once it
    has read them from OPA."""
    lookup = EvidenceLookup(FileEvidenceSource(root), **options)
    lookup.trust(TrustStore.from_data(yaml.safe_load((POLICIES / "gatekeeper/signers/signers.yaml").read_text())))
    return lookup


def copy_version(evidence: Path, model: str, version: str, to: str) -> Path:
    folder = shutil.copytree(evidence / model / version, evidence / model / to)
    bundle = folder / "evidence.yaml"
    bundle.write_text(bundle.read_text().replace(f"version: '{version}'", f"version: '{to}'"))
    return folder


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    shutil.copytree(EVIDENCE, tmp_path / "evidence")
    return tmp_path / "evidence"


def test_evidence_is_cached_for_its_ttl_then_read_again(evidence: Path):
    clock = FakeClock()
    lookup = lookup_of(evidence, ttl=TTL, clock=clock.monotonic)
    bundle = evidence / "credit-scoring" / "3" / "evidence.yaml"

    async def run() -> list[str]:
        owners = [(await lookup.find(ref("credit-scoring", "3"))).facts["evidence"]["owner"]]
        bundle.write_text(bundle.read_text().replace("risk-analytics@example.com", "model-risk@example.com"))
        clock.advance(TTL - 1)
        owners.append((await lookup.find(ref("credit-scoring", "3"))).facts["evidence"]["owner"])
        clock.advance(1.5)
        owners.append((await lookup.find(ref("credit-scoring", "3"))).facts["evidence"]["owner"])
        return owners

    assert asyncio.run(run()) == ["risk-analytics@example.com", "risk-analytics@example.com",
                                  "model-risk@example.com"]


def test_an_alias_is_resolved_again_when_the_ttl_runs_out(evidence: Path):
    clock = FakeClock()
    lookup = lookup_of(evidence, ttl=TTL, clock=clock.monotonic)
    aliases = evidence / "churn-predictor" / "aliases.yaml"
    copy_version(evidence, "churn-predictor", "7", "8")

    async def run() -> list[str | None]:
        versions = [(await lookup.find(ref("churn-predictor", alias="champion"))).version]
        aliases.write_text('champion: "8"\n')
        versions.append((await lookup.find(ref("churn-predictor", alias="champion"))).version)
        clock.advance(TTL + 0.5)
        versions.append((await lookup.find(ref("churn-predictor", alias="champion"))).version)
        return versions

    assert asyncio.run(run()) == ["7", "7", "8"]


def test_failures_are_never_cached(evidence: Path):
    lookup = lookup_of(evidence, ttl=TTL, clock=FakeClock().monotonic)
    folder = evidence / "credit-scoring" / "99"

    async def run() -> tuple:
        missing = await lookup.find(ref("credit-scoring", "99"))
        copy_version(evidence, "credit-scoring", "3", "99")
        return missing, await lookup.find(ref("credit-scoring", "99"))

    missing, found = asyncio.run(run())
    assert missing.facts is None and missing.error["kind"] == "missing" and missing.problem is None
    assert f"({(folder / 'evidence.yaml').relative_to(evidence)} not found)" in missing.error["message"]
    assert found.error is None and found.version == "99" and found.digest.startswith("sha256:")


def test_an_unreadable_bundle_is_a_problem_to_report(evidence: Path):
    (evidence / "credit-scoring" / "3" / "evidence.yaml").write_text("risk_class: [high\n")
    found = asyncio.run(lookup_of(evidence).find(ref("credit-scoring", "3")))
    assert found.facts is None and found.error["kind"] == "unreadable"
    assert found.problem == found.error["message"] and "evidence.yaml" in found.problem


def test_what_it_finds_makes_the_documented_input_document_opa_decides_on(opa_url: str):
    """Every example version, as the pipeline builds its input (docs/policy-input.md): the
    typed shape holds (extra keys refused), and OPA decides on it."""
    lookup = lookup_of(EVIDENCE)
    models = [ref("churn-predictor", alias="champion"), ref("credit-scoring", "99"),
              *(ref("credit-scoring", str(v)) for v in range(3, 13))]
    workload = ObjectRef(api_version="serving.kserve.io/v1beta1", kind="InferenceService", namespace="lending",
                         name="scorer")

    async def run() -> tuple[list[PolicyInput], list[dict]]:
        found = [await lookup.find(model) for model in models]
        now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")  # after the examples were signed
        inputs = [policy_input(now, "production", "CREATE", workload,
                               [model_entry(model, f.version, f.facts, f.error)], [])
                  for model, f in zip(models, found)]
        engine = PolicyEngine(opa_url)
        try:
            return inputs, [await engine.decide(doc) for doc in inputs]  # type: ignore[arg-type]
        finally:
            await engine.close()

    inputs, decisions = asyncio.run(run())
    adapter = TypeAdapter(PolicyInput)
    for doc in inputs:
        adapter.validate_python(doc)
    assert [d["models"][0]["version"] for d in decisions] == ["7", "99", *map(str, range(3, 13))]
    assert [d["allowed"] for d in decisions[:2]] == [True, False]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        adapter.validate_python({**inputs[0], "stray": 1})
