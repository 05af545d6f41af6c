"""The policy facts Python reads from OPA (`data.gatekeeper.facts`), and who uses them.

Python never re-reads the matrix or the signers YAML: PolicyEngine.facts() is one snapshot
of what OPA evaluates, and the waiver CLI refuses and warns from it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gatekeeper.opa.client import PolicyEngine, PolicyError
from gatekeeper.opa.server import OpaServer
from gatekeeper.types.decision import RISK_CLASSES

from .conftest import EVIDENCE, POLICIES, require_tool, run_cli
from .mlflow.trust import make_trust


def edited_policies(tmp_path: Path, **matrix_changes) -> Path:
    """A copy of policies/ whose matrix has the given top-level keys replaced."""
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    path = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix = yaml.safe_load(path.read_text())
    matrix.update(matrix_changes)
    path.write_text(yaml.safe_dump(matrix, sort_keys=False))
    return policies


async def test_facts_are_the_matrix_and_signers_as_opa_reads_them(opa_url):
    engine = PolicyEngine(opa_url)
    try:
        facts = await engine.facts()
        assert facts.revision == await engine.revision() and facts.revision.startswith("sha256:")
    finally:
        await engine.close()
    assert facts.environments == {"production": "deny", "staging": "warn", "development": "dryrun"}
    assert facts.risk_classes == ["minimal", "limited", "high", "prohibited"] == list(RISK_CLASSES)
    assert facts.never_waivable_prefixes == ["classification.", "classification.prohibited", "evidence.", "signoff."]
    assert facts.approver_roles == ["compliance"]
    assert facts.signoff_role("validator") == {"reviews_all_but": ["drift"], "max_validity_days": 730}
    signers = yaml.safe_load((POLICIES / "gatekeeper" / "signers" / "signers.yaml").read_text())
    assert facts.signers == signers


async def test_a_mistyped_enforcement_word_is_deny_in_the_facts(tmp_path):
    environments = {"production": {"enforcement": "Deny"}, "staging": {"enforcement": "warning"},
                    "development": {"enforcement": "dryrun"}}
    with OpaServer(edited_policies(tmp_path, environments=environments), binary=require_tool("opa")) as server:
        engine = PolicyEngine(server.url)
        try:
            facts = await engine.facts()
        finally:
            await engine.close()
    assert facts.environments == {"production": "deny", "staging": "deny", "development": "dryrun"}
    assert facts.enforcement("qa") == "deny"  # an environment the policy does not define


async def test_a_policy_without_the_facts_rule_is_a_policy_error_naming_it(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "gatekeeper" / "facts.rego").unlink()
    (policies / "gatekeeper" / "facts_test.rego").unlink()
    with OpaServer(policies, binary=require_tool("opa")) as server:
        engine = PolicyEngine(server.url)
        try:
            with pytest.raises(PolicyError, match=r"data\.gatekeeper\.facts is undefined"):
                await engine.facts()
        finally:
            await engine.close()


def waiver_create(trust, requirement: str, *extra: str, who: str = "cora@example.com"):
    return run_cli("waiver", "create", "--key", str(trust.key_files[who]), "--model", "credit-scoring",
                   "--versions", "4", "--requirement", requirement, "--reason", "accepted by the review board",
                   "--evidence", str(EVIDENCE), *extra)


@pytest.fixture(scope="module")
def strict_trust(tmp_path_factory):
    """Test signers, and a matrix that also never waives pii. and lets validators approve."""
    trust = make_trust(tmp_path_factory.mktemp("trust"))
    path = trust.policy_dir / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix = yaml.safe_load(path.read_text())
    matrix["waivers"] = {"approver_roles": ["validator"], "never_waivable_prefixes": ["classification.", "pii."]}
    path.write_text(yaml.safe_dump(matrix, sort_keys=False))
    return trust


def test_waiver_create_refuses_the_matrix_never_waivable_prefixes(strict_trust):
    for requirement, says in [("pii.open_findings", "pii requirements can never be waived"),
                              ("classification.prohibited", "classification requirements can never be waived")]:
        refused = waiver_create(strict_trust, requirement, "--policy-dir", str(strict_trust.policy_dir))
        assert refused.code == 2, refused.stderr
        assert refused.stderr.strip() == f"gatekeeper: {requirement}: {says}"
        assert refused.stdout == ""


def test_waiver_create_warns_from_the_matrix_approver_roles(strict_trust, tmp_path):
    out = tmp_path / "w.dsse.json"
    made = waiver_create(strict_trust, "fairness.demographic_parity_ratio", "--out", str(out),
                         "--policy-dir", str(strict_trust.policy_dir))
    assert made.code == 0, made.stderr
    assert "cora@example.com holds none of the approver roles (validator)" in made.stderr
    made = waiver_create(strict_trust, "fairness.demographic_parity_ratio", "--out", str(out),
                         "--policy-dir", str(strict_trust.policy_dir), who="vera@example.com")
    assert made.code == 0, made.stderr
    assert "approver roles" not in made.stderr


def test_waiver_create_asks_a_running_opa(strict_trust):
    with OpaServer(strict_trust.policy_dir, binary=require_tool("opa")) as server:
        refused = waiver_create(strict_trust, "pii.open_findings", "--opa-url", server.url)
    assert refused.code == 2 and "pii requirements can never be waived" in refused.stderr


def test_waiver_create_without_an_answering_opa_exits_2_naming_it(strict_trust):
    from gatekeeper.opa.server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    refused = waiver_create(strict_trust, "fairness.demographic_parity_ratio", "--opa-url", url)
    assert refused.code == 2
    assert refused.stderr.startswith(f"gatekeeper: OPA at {url} is unreachable") and refused.stderr.count("\n") == 1
