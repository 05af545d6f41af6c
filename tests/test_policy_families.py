"""A compliance officer's edit takes effect or is refused, never passes silently: a new
family module denies, a misspelt matrix family is refused by name, a threshold change fails
only the shipped policy's expectations, and `gatekeeper policy new` scaffolds a family that
passes `policy test` and denies once its condition is filled in. The real OPA and Regal,
through `gatekeeper policy test` and `gatekeeper check` as a user runs them, on a copy of
policies/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import EVIDENCE, MANIFESTS, POLICIES, require_tool, run_cli

COMPLIANT = str(MANIFESTS / "compliant")
CREDIT_SCORING = str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml")

# The module the officer wrote, declaring what it reads and raises as README
# "Adding a requirement" says.
OWNERSHIP = '''package gatekeeper.requirements.ownership

import data.gatekeeper.lib

reads := {"ownership"}

raises := {"ownership.domain"}

violations contains v if {
	some ctx in lib.assessed
	domain := ctx.requirements.ownership.domain
	not endswith(ctx.evidence.owner, concat("", ["@", domain]))
	message := sprintf("owner %s is not in %s", [ctx.evidence.owner, domain])
	v := lib.violation(ctx, "ownership.domain", message, ctx.evidence.owner, domain)
}
'''


@pytest.fixture(autouse=True)
def tools():
    require_tool("opa")
    require_tool("regal")


@pytest.fixture
def policies(tmp_path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICIES, folder)
    return folder


def matrix_of(folder: Path) -> Path:
    return folder / "gatekeeper" / "matrix" / "requirements.yaml"


def edit_matrix(folder: Path, old: str, new: str) -> None:
    path = matrix_of(folder)
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def add_to_high(folder: Path, line: str) -> None:
    """A setting under risk_classes.high (its first line is the model card's)."""
    edit_matrix(folder, "  high:\n    model_card:", f"  high:\n    {line}\n    model_card:")


def check(folder: Path, *paths: str, output: str = "table") -> object:
    return run_cli("check", "--policy-dir", str(folder), "--evidence", str(EVIDENCE), "--format", output, *paths)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_new_family_module_takes_effect_and_is_reported_as_checked(policies):
    (policies / "gatekeeper" / "requirements" / "ownership.rego").write_text(OWNERSHIP)
    add_to_high(policies, "ownership: {domain: bank.example}")
    edit_matrix(policies, "remediation:\n", "remediation:\n  ownership.domain: Transfer the model to an owner in our domain.\n")
    regulations = policies / "gatekeeper" / "regulations" / "map.yaml"
    text = regulations.read_text()
    regulations.write_text(text.replace("requirements:\n", "requirements:\n  ownership.domain:\n    iso_42001: [A.3.2]\n", 1))

    result = check(policies, CREDIT_SCORING, output="json")
    assert result.code == 1, result.stdout + result.stderr
    decision = json.loads(result.stdout)["results"][0]
    assert [(v["requirement"], v["message"], v["remediation"]) for v in decision["violations"]] == [(
        "ownership.domain", "owner risk-analytics@example.com is not in bank.example",
        "Transfer the model to an owner in our domain.",
    )]
    assert "ownership" in decision["checks"][0]["families"]
    assert [r["label"] for r in decision["violations"][0]["references"]] == ["ISO/IEC 42001 A.3.2"]

    # the same module without declaring what it raises: refused by name, not run unchecked
    module = policies / "gatekeeper" / "requirements" / "ownership.rego"
    module.write_text(OWNERSHIP.replace('raises := {"ownership.domain"}\n', ""))
    refused = check(policies, CREDIT_SCORING)
    assert refused.code == 2, refused.stdout + refused.stderr
    line = one_line(refused.stderr)
    assert line.startswith(f"gatekeeper: policy refused: {module}: family 'ownership' ") and "(and 1 more" in line


def test_a_misspelt_family_is_refused_by_name(policies):
    add_to_high(policies, "explainabilty: {required: true}")
    matrix = matrix_of(policies)

    result = run_cli("policy", "test", "--policy-dir", str(policies))
    assert result.code == 1, result.stdout + result.stderr
    failing = [line for line in result.stdout.splitlines() if line.startswith("FAIL  policy")]
    assert len(failing) == 1
    assert failing[0].startswith(f"FAIL  policy: {matrix}: risk_classes.high.explainabilty: ")
    assert "implements the family 'explainabilty'" in failing[0]

    # the gate refuses it too: `check` (exit 2) and `serve` (at its start), in one line
    refused = check(policies, COMPLIANT)
    assert refused.code == 2, refused.stdout + refused.stderr
    line = one_line(refused.stderr)
    assert "policy refused" in line and "'explainabilty'" in line and "requirements.yaml" in line
    assert refused.stdout == ""


def test_a_threshold_change_fails_only_the_shipped_expectations(policies):
    edit_matrix(policies, "    performance: {}  #", "    performance: {auc: {min: 0.90}}  #")
    result = run_cli("policy", "test", "--policy-dir", str(policies))
    assert result.code == 1, result.stdout + result.stderr
    out = result.stdout
    assert "a mechanism is broken" not in out, out
    changed = [line for line in out.splitlines() if line.startswith("FAIL  opa test")]
    assert len(changed) == 1, out
    assert changed[0].startswith("FAIL  opa test: the shipped policy's expectations changed (")
    assert "shipped_expectations_test.rego" in changed[0]
    assert "test_compliant_bundles_are_admitted_everywhere" in out
    assert "PASS  policy: " in out and "PASS  regal lint: no violations" in out


def test_a_broken_mechanism_is_named_so(policies):
    # waivers no longer turn anything into a warning
    path = policies / "gatekeeper" / "decision.rego"
    text = path.read_text()
    assert text.count("\tnot lib.waiver_for(v)\n") == 1
    path.write_text(text.replace("\tnot lib.waiver_for(v)\n", ""))
    result = run_cli("policy", "test", "--policy-dir", str(policies))
    assert result.code == 1
    assert any(line.startswith("FAIL  opa test: a mechanism is broken (") for line in result.stdout.splitlines())
    assert "test_waiver_turns_violation_into_warning" in result.stdout
    assert "expectations changed" not in result.stdout


def test_policy_new_scaffolds_a_family_that_denies_once_filled_in(policies):
    made = run_cli("policy", "new", "ownership", "--risk-class", "high", "--policy-dir", str(policies))
    assert made.code == 0, made.stdout + made.stderr
    module = policies / "gatekeeper" / "requirements" / "ownership.rego"
    assert module.is_file() and (policies / "gatekeeper" / "requirements" / "ownership_test.rego").is_file()

    tested = run_cli("policy", "test", "--policy-dir", str(policies))
    assert tested.code == 0, tested.stdout + tested.stderr
    assert check(policies, COMPLIANT).code == 0  # nothing is denied before the condition is filled in

    # the officer fills in the settings and the condition (README "Adding a requirement")
    edit_matrix(policies, "    ownership: {}", "    ownership: {domain: bank.example}")
    text = module.read_text()
    placeholder = text[text.index("problems(evidence, settings) := set() if {"):]
    assert placeholder.endswith("}\n") and placeholder.count("\n}\n") == 1
    module.write_text(text.replace(placeholder, (
        "problems(evidence, settings) := {message |\n"
        "\towner := lib.text(object.get(evidence, \"owner\", \"\"))\n"
        "\tnot endswith(owner, concat(\"\", [\"@\", settings.domain]))\n"
        "\tmessage := sprintf(\"owner %s is not in %s\", [owner, settings.domain])\n"
        "}\n")))
    denied = check(policies, COMPLIANT)
    assert denied.code == 1, denied.stdout + denied.stderr
    assert "✗ ownership.required credit-scoring@3: owner risk-analytics@example.com is not in bank.example" in denied.stdout

    again = run_cli("policy", "new", "ownership", "--policy-dir", str(policies))
    assert again.code == 2 and "already exists" in one_line(again.stderr)
    bad = run_cli("policy", "new", "Owner-Ship", "--policy-dir", str(policies))
    assert bad.code == 2 and "family name 'Owner-Ship'" in one_line(bad.stderr)


def test_serve_refuses_to_start_with_a_misspelt_family(policies, tmp_path):
    from gatekeeper.opa.server import free_port

    add_to_high(policies, "explainabilty: {required: true}")
    result = run_cli("serve", "--policy-dir", str(policies), "--evidence", str(EVIDENCE), "--port", str(free_port()),
                     "--audit-db", f"sqlite:///{tmp_path / 'audit.db'}")
    assert result.code == 2, result.stdout + result.stderr
    line = [line for line in result.stderr.splitlines() if line.startswith("gatekeeper: policy refused")]
    assert line and "'explainabilty'" in line[0] and "Traceback" not in result.stderr


def test_readiness_refuses_a_policy_changed_under_it_and_decisions_fail_closed(policies):
    """An OPA whose policy changes while the gate runs (a bundle update, here OPA's data API):
    readiness reads the new revision, refuses it by name, and every decision fails closed."""
    import asyncio

    import httpx
    import yaml

    from gatekeeper.config import Settings
    from gatekeeper.opa.server import OpaServer
    from gatekeeper.pipeline.assemble import open_gate
    from gatekeeper.pipeline.gate import Manifest
    from gatekeeper.webhook.readiness import watch

    inference_service = yaml.safe_load(Path(CREDIT_SCORING).read_text())

    async def until(condition, what: str) -> None:
        for _ in range(400):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    async def run(opa_url: str) -> None:
        async with open_gate(Settings(opa_url=opa_url, evidence_dir=EVIDENCE, opa_timeout=10.0)) as gate:
            ready: dict[str, str | None] = {"opa": "starting", "audit": None}
            watcher = asyncio.create_task(watch(gate, ready, interval=0.05, revision_every=0.05))
            try:
                await until(lambda: ready["opa"] is None, "readiness")
                assert (await gate.evaluate([Manifest(inference_service)], "production")).report.allowed
                async with httpx.AsyncClient(base_url=opa_url) as opa:
                    matrix = (await opa.get("/v1/data/gatekeeper/matrix")).json()["result"]
                    matrix["risk_classes"]["high"]["explainabilty"] = {"required": True}
                    assert (await opa.put("/v1/data/gatekeeper/matrix", json=matrix)).status_code == 204
                await until(lambda: "explainabilty" in (ready["opa"] or ""), "readiness to refuse the policy")
                assert ready["opa"].startswith("policy refused: ") and "\n" not in ready["opa"]
                evaluation = await gate.evaluate([Manifest(inference_service)], "production")
                decision = evaluation.report.results[0]
                assert not decision.allowed and "explainabilty" in (decision.error or "")
            finally:
                watcher.cancel()

    with OpaServer(policies) as opa:
        asyncio.run(run(opa.url))
