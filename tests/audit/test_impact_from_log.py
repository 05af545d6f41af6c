"""`gatekeeper policy impact --from-log`: a real decision log written by the real pipeline
(SQLite; PostgreSQL for one case), replayed by the real CLI on a real OPA holding a
tightened copy of the policies. What flips is computed from the example evidence's
fairness values, never written down."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from gatekeeper.audit import AuditRecord, open_store
from gatekeeper.config import Settings
from gatekeeper.opa.server import OpaServer
from gatekeeper.pipeline.assemble import open_gate
from gatekeeper.pipeline.gate import Manifest, ReviewContext
from gatekeeper.types.decision import ObjectRef

from ..conftest import EVIDENCE, MANIFESTS, POLICIES, require_tool, run_cli

RATIO = "demographic_parity_ratio"
TIGHTER = 0.87  # the matrix asks >= 0.80 of every class with the fairness family
REQUIREMENT = f"fairness.{RATIO}"


def min_ratio(model: str) -> float | None:
    """The lowest demographic parity ratio over a version's attributes, from its evidence."""
    name, _, version = model.partition("@")
    path = EVIDENCE / name / version / "evidence.yaml"
    if not path.is_file():
        return None
    fairness = (yaml.safe_load(path.read_text()) or {}).get("fairness") or {}
    ratios = [attribute[RATIO] for attribute in fairness.values() if isinstance(attribute, dict) and RATIO in attribute]
    return min(ratios) if ratios else None


def checked_classes() -> set[str]:
    """The risk classes whose fairness family sets the ratio's threshold (the matrix's)."""
    matrix = yaml.safe_load((POLICIES / "gatekeeper" / "matrix" / "requirements.yaml").read_text())
    return {name for name, families in matrix["risk_classes"].items()
            if f"{RATIO}_min" in ((families or {}).get("fairness") or {})}


def falls_below(models: list[str]) -> bool:
    return any((ratio := min_ratio(m)) is not None and ratio < TIGHTER for m in models)


def newly_below(record: AuditRecord) -> bool:
    """A model of its class, checked for the ratio, that meets 0.80 but not TIGHTER."""
    classes = checked_classes()
    return any(m.risk_class in classes and falls_below([f"{m.name}@{m.version}"]) for m in record.models)


def examples() -> list[dict]:
    return [doc for path in sorted(MANIFESTS.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def seldon(name: str, model: str, version: int) -> dict:
    """A Seldon Model serving MODEL/VERSION (the example's, renamed)."""
    obj = yaml.safe_load((MANIFESTS / "compliant" / "churn-predictor-seldon-model.yaml").read_text())
    obj["metadata"].update(name=name, namespace="scoring",
                           annotations={"model-gatekeeper.io/model": f"models:/{model}/{version}"})
    obj["spec"]["storageUri"] = f"s3://models/{model}/{version}"
    return obj


async def write_log(url: str, *, background: bool = True) -> dict:
    """Admissions of every example (twice, in two namespaces for the second round), a
    record without a stored input, and the auditor's records of two running workloads
    whose newest decisions differ from their older ones. Returns what the test needs."""
    store = await open_store(url)
    facts: dict = {}
    try:
        with OpaServer(POLICIES, binary=require_tool("opa")) as opa:
            settings = Settings(opa_url=opa.url, evidence_dir=EVIDENCE, opa_timeout=30.0)
            async with open_gate(settings, audit=store) as gate:
                webhook = ReviewContext(source="webhook", user="alice")
                await gate.evaluate([Manifest(o) for o in examples()], "production", webhook)
                facts["cut"] = datetime.now(timezone.utc)
                moved = []
                for obj in examples():
                    obj = copy.deepcopy(obj)
                    if obj.get("metadata", {}).get("namespace"):
                        obj["metadata"]["namespace"] += "-eu"
                    moved.append(Manifest(obj))
                await gate.evaluate(moved, "production", webhook)
                if background:
                    auditor = ReviewContext(source="background")
                    # "flips": was serving churn-predictor@7, now credit-scoring@3; "stays": the reverse
                    older = await gate.evaluate([Manifest(seldon("flips", "churn-predictor", 7)),
                                                 Manifest(seldon("stays", "credit-scoring", 3))], "production", auditor)
                    newer = await gate.evaluate([Manifest(seldon("flips", "credit-scoring", 3)),
                                                 Manifest(seldon("stays", "churn-predictor", 7))], "production", auditor)
                    facts["background"] = [d for e in (older, newer) for d in e.report.results]
        # A record from before inputs were stored: counted, never dropped.
        await store.append(AuditRecord(decision_id="from-an-older-release", time=datetime.now(timezone.utc),
                                       object=ObjectRef(api_version="apps/v1", kind="Deployment", namespace="legacy",
                                                        name="old"), environment="production", outcome="admitted",
                                       allowed=True, enforcement="deny", source="webhook"))
        facts["records"] = [r for r in await store.list(limit=1000) if r.source == "webhook"]
    finally:
        await store.close()
    return facts


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> tuple[str, dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('impact') / 'audit.db'}"
    return url, asyncio.run(write_log(url))


@pytest.fixture(scope="module")
def tightened(tmp_path_factory) -> Path:
    """A copy of the policies asking a demographic parity ratio of TIGHTER of every class."""
    folder = tmp_path_factory.mktemp("tight") / "policies"
    shutil.copytree(POLICIES, folder)
    matrix = folder / "gatekeeper" / "matrix" / "requirements.yaml"
    text = matrix.read_text()
    assert f"{RATIO}_min: 0.80" in text
    matrix.write_text(text.replace(f"{RATIO}_min: 0.80", f"{RATIO}_min: {TIGHTER}"))
    return folder


def impact(url: str, policies: Path, *args: str):
    return run_cli("policy", "impact", "--from-log", "--audit-db", url, "--policy-dir", str(policies), *args)


@pytest.fixture(scope="module")
def report(log, tightened) -> dict:
    url, _ = log
    result = impact(url, tightened, "--format", "json")
    assert result.code == 1, result.stderr
    return result.json()


def test_exactly_the_admissions_below_the_new_threshold_flip(log, report):
    _, facts = log
    judged = [r for r in facts["records"] if r.decision_id != "from-an-older-release"]
    expected = {r.decision_id for r in judged if r.allowed and newly_below(r)}
    assert expected and any(r.allowed and not newly_below(r) for r in judged)  # a mix: some stay admitted
    flips = report["admissions"]["changes"]
    assert {c["decision_id"] for c in flips if c["change"] == "admitted_to_denied"} == expected
    assert not [c for c in flips if c["change"] == "denied_to_admitted"]
    for change in flips:
        assert change["vanished"] == []
        assert change["appeared"] == [REQUIREMENT]
        assert falls_below(change["models"])
    # the denied ones below the threshold now violate it too (still denied)
    assert {c["decision_id"] for c in flips if c["change"] == "violations_changed"} == {
        r.decision_id for r in judged if not r.allowed and newly_below(r)
        and REQUIREMENT not in {v.requirement for v in r.violations}}
    admissions = report["admissions"]
    assert admissions["considered"] == len(facts["records"])
    assert admissions["not_replayable"] == 1 and admissions["replayed"] == len(judged)
    assert admissions["by"]["requirement"] == {REQUIREMENT: len(flips)}
    namespaces = {r.object.namespace for r in judged if r.decision_id in expected}
    assert set(admissions["by"]["namespace"]) >= namespaces and len(namespaces) == 2


def test_a_running_workload_flips_on_its_newest_background_decision(log, report):
    _, facts = log
    older_flips, older_stays, newer_flips, newer_stays = facts["background"]
    assert older_flips.allowed and not older_flips.violations and newer_flips.allowed  # compliant when recorded
    workloads = report["workloads"]
    assert workloads["considered"] == 2 and workloads["replayed"] == 2
    assert [(c["name"], c["change"], c["models"], c["appeared"]) for c in workloads["changes"]] == [
        ("flips", "compliant_to_noncompliant", ["credit-scoring@3"], [REQUIREMENT])]
    assert falls_below(["credit-scoring@3"]) and not falls_below(["churn-predictor@7"])


def test_the_table_and_the_markdown_say_the_same(log, tightened, report):
    url, _ = log
    table = impact(url, tightened)
    assert table.code == 1, table.stderr
    flips = report["admissions"]["changes"]
    lines = table.stdout.splitlines()
    assert sum("ADMITTED → DENIED" in line for line in lines) == sum(c["change"] == "admitted_to_denied" for c in flips)
    assert sum("BECOMES NON-COMPLIANT" in line for line in lines) == 1
    assert "1 not replayable (1 no stored input)" in table.stdout
    assert "not replayable" in table.stderr  # said at the terminal too
    assert lines[-1].startswith(f"{len(flips)} of {report['admissions']['replayed']} replayed admissions change")

    markdown = impact(url, tightened, "--format", "markdown")
    assert markdown.code == 1, markdown.stderr
    assert markdown.stdout.startswith("### Policy impact on the decision log")
    rows = [line for line in markdown.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(flips) + 1 + 2  # each admission, one workload, two header rows
    assert f"+`{REQUIREMENT}`" in markdown.stdout


def test_the_same_policies_change_nothing(log):
    url, _ = log
    result = impact(url, POLICIES, "--format", "json")
    assert result.code == 0, result.stderr
    document = result.json()
    assert document["admissions"]["changed"] == 0 and document["workloads"]["changed"] == 0
    assert document["admissions"]["replayed"] > 0


def test_the_period_leaves_older_admissions_out(log, tightened):
    url, facts = log
    cut = facts["cut"].isoformat()
    result = impact(url, tightened, "--since", cut, "--format", "json")
    assert result.code == 1, result.stderr
    admissions = result.json()["admissions"]
    after = [r for r in facts["records"] if r.time >= facts["cut"]]
    assert admissions["considered"] == len(after)
    assert all(c["namespace"].endswith("-eu") for c in admissions["changes"])


@pytest.mark.parametrize("args, message", [
    (("--since", "thirty days"), "--since 'thirty days': expected a duration such as 30d"),
    (("--since", "2999-01-01"), "is in the future"),
    (("--base", "HEAD"), "--base does not apply"),
    (("--format", "sarif"), "unknown format 'sarif'"),
    (("-e", "nowhere"), "unknown environment 'nowhere'"),
])
def test_bad_arguments_exit_2_with_one_line(log, args, message):
    url, _ = log
    result = impact(url, POLICIES, *args)
    assert result.code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr


def test_a_missing_log_exits_2(tmp_path):
    result = impact(f"sqlite:///{tmp_path / 'nothing.db'}", POLICIES)
    assert result.code == 2 and "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_postgresql_log(pg_url, tightened):
    facts = asyncio.run(write_log(pg_url, background=False))
    result = impact(pg_url, tightened, "--format", "json")
    assert result.code == 1, result.stderr
    expected = {r.decision_id for r in facts["records"] if r.allowed and newly_below(r)}
    assert {c["decision_id"] for c in result.json()["admissions"]["changes"]
            if c["change"] == "admitted_to_denied"} == expected
