"""Renderers (gatekeeper.reports, one module per format) on reports the real gate produced.

One module fixture asks the real CLI (real OPA) for the reports; the tests then check
what each renderer makes of them, including edges that examples do not reach (waivers,
a workload serving two models, awkward file names).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from gatekeeper import reports
from gatekeeper.reports.common import artifact_path
from gatekeeper.reports.github import escape_data, escape_property, workflow_command
from gatekeeper.reports.summary import promotion_summary
from gatekeeper.types.decision import DecidedModel, Report, SourceLocation, Violation, WaivedViolation

from .conftest import MANIFESTS, ROOT

FILES = [MANIFESTS / "noncompliant" / "fairness-credit-scoring-4.yaml",
         MANIFESTS / "noncompliant" / "evidence-no-model-reference.yaml",
         MANIFESTS / "compliant"]


@pytest.fixture(scope="module")
def by_environment(opa_url) -> dict[str, Report]:
    from .conftest import run_cli

    result = run_cli("check", "--opa-url", opa_url, "-e", "staging,production", "--format", "json", *map(str, FILES))
    assert result.code == 1, result.stderr
    return {env: Report.model_validate(r) for env, r in result.json()["environments"].items()}


@pytest.fixture
def production(by_environment) -> dict[str, Report]:
    return {"production": by_environment["production"].model_copy(deep=True)}


def decision(report: Report, name: str):
    return next(d for d in report.results if d.object.name == name)


def test_json_one_environment_is_the_design_report(production):
    document = json.loads(reports.render("json", production))
    assert set(document) == {"allowed", "results", "skipped"}
    assert document["allowed"] is False
    first = document["results"][0]
    for key in ("object", "environment", "allowed", "enforcement", "models", "violations", "warnings", "policy_revision"):
        assert key in first


def test_json_several_environments(by_environment):
    document = json.loads(reports.render("json", by_environment))
    assert document["allowed"] is False and document["stops_at"] == "production"
    assert document["environments"]["staging"]["allowed"] is True
    assert Report.model_validate(document["environments"]["production"]) == by_environment["production"]


def test_promotion_summary(by_environment):
    assert promotion_summary(by_environment) == (
        "promotion stops at production: admitted in staging with 2 warnings, denied in production: "
        "InferenceService/lending/credit-scoring-v4 (fairness.demographic_parity_ratio); "
        "InferenceService/lending/anonymous-model (evidence.model_reference)")


def test_table_text_is_plain(by_environment):
    text = reports.render("table", by_environment)
    assert "\x1b[" not in text
    assert "== staging ==" in text and text.rstrip().endswith("(evidence.model_reference)")
    assert "✗ evidence.model_reference: InferenceService serves a model" in text  # no "@" without a model


def test_junit_attributes_violations_to_the_model_they_name(production):
    report = production["production"]
    target = decision(report, "credit-scoring-v4")
    # The same workload serving a second model (e.g. a transformer beside the predictor).
    target.models.append(DecidedModel(ref="models:/tokenizer/2", name="tokenizer", version="2", risk_class="minimal"))
    root = ET.fromstring(reports.render("junit", production))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    main = cases["InferenceService/lending/credit-scoring-v4 credit-scoring@4"]
    side = cases["InferenceService/lending/credit-scoring-v4 tokenizer@2"]
    assert "fairness.demographic_parity_ratio" in main.find("failure").text
    # Denied as a whole, but none of the violations are the tokenizer's.
    assert side.find("failure").get("message") == "denied in production (violations of another model of this object)"
    assert side.find("failure").text is None


def test_junit_suites_per_environment(by_environment):
    root = ET.fromstring(reports.render("junit", by_environment))
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert list(suites) == ["gatekeeper check (staging)", "gatekeeper check (production)"]
    assert suites["gatekeeper check (staging)"].get("failures") == "0"  # staging warns
    assert suites["gatekeeper check (production)"].get("failures") == "2"
    staging_case = next(c for c in suites["gatekeeper check (staging)"].iter("testcase")
                        if c.get("name").startswith("InferenceService/lending/credit-scoring-v4"))
    assert staging_case.find("failure") is None
    assert "[fairness.demographic_parity_ratio]" in staging_case.find("system-out").text


def test_sarif_rules_once_results_per_violation_and_waivers_suppressed(by_environment):
    staging = by_environment["staging"]
    target = decision(staging, "credit-scoring-v4")
    violation = target.violations[0]
    target.waived.append(WaivedViolation(**violation.model_dump(), waiver="waivers/fairness.dsse.json",
                                         waiver_reason="re-training scheduled", waiver_expires_at="2027-01-01T00:00:00Z"))
    sarif = json.loads(reports.render("sarif", by_environment, base=ROOT))
    [run] = sarif["runs"]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(ids) == sorted(set(ids)) == ["evidence.model_reference", "fairness.demographic_parity_ratio"]
    levels = {(r["properties"]["environment"], r["ruleId"], "suppressions" in r): r["level"] for r in run["results"]}
    assert levels == {
        ("staging", "fairness.demographic_parity_ratio", False): "warning",
        ("staging", "fairness.demographic_parity_ratio", True): "note",
        ("staging", "evidence.model_reference", False): "warning",
        ("production", "fairness.demographic_parity_ratio", False): "error",
        ("production", "evidence.model_reference", False): "error",
    }
    waived = next(r for r in run["results"] if "suppressions" in r)
    assert waived["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "re-training scheduled"}]
    fingerprints = [next(iter(r["partialFingerprints"].values())) for r in run["results"] if "suppressions" not in r]
    assert len(set(fingerprints)) == len(fingerprints)
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uriBaseId"] == "%SRCROOT%" and uri["uri"].startswith("examples/manifests/")


def test_sarif_location_outside_the_repository_is_an_absolute_uri(production, tmp_path):
    report = production["production"]
    decision(report, "credit-scoring-v4").source = SourceLocation(file=str(tmp_path / "x y.yaml"), line=7)
    result = next(r for r in json.loads(reports.render("sarif", production, base=ROOT))["runs"][0]["results"]
                  if r["ruleId"] == "fairness.demographic_parity_ratio")
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": (tmp_path / "x y.yaml").as_uri()}
    assert location["region"] == {"startLine": 7}


def test_github_escaping_follows_the_toolkit():
    assert escape_data("100% sure\r\nnext") == "100%25 sure%0D%0Anext"
    assert escape_property("a,b: 50%\n") == "a%2Cb%3A 50%25%0A"
    assert workflow_command("warning", "two\nlines", file="x,y.yaml", line=3, title="t: 1") == \
        "::warning file=x%2Cy.yaml,line=3,title=t%3A 1::two%0Alines"
    assert workflow_command("notice", "m") == "::notice::m"


def test_github_levels_per_enforcement(by_environment):
    text = reports.render("github", by_environment, base=ROOT)
    commands = [re.match(r"::(\w+) file=([^,]+),line=(\d+),title=([^:]+)::", line).groups()
                for line in text.splitlines() if line.startswith("::")]
    assert ("warning", "examples/manifests/noncompliant/fairness-credit-scoring-4.yaml", "1",
            "fairness.demographic_parity_ratio (staging)") in commands
    assert ("error", "examples/manifests/noncompliant/fairness-credit-scoring-4.yaml", "1",
            "fairness.demographic_parity_ratio (production)") in commands
    assert text.rstrip().splitlines()[-1].startswith("promotion stops at production:")


def test_artifact_paths(tmp_path):
    assert artifact_path("examples/../examples/x.yaml", ROOT) == "examples/x.yaml"
    assert artifact_path(str(ROOT / "deploy" / "a.yaml"), ROOT) == "deploy/a.yaml"
    assert artifact_path(str(tmp_path / "a.yaml"), ROOT) == (tmp_path / "a.yaml").as_posix()
    assert artifact_path("<stdin>", ROOT) == "<stdin>"


def test_unknown_format_is_refused(production):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        reports.render("xml", production)


def test_violation_lines_without_a_model(production):
    report = production["production"]
    anonymous = decision(report, "anonymous-model")
    assert anonymous.models == [] and anonymous.violations[0].model == ""
    text = reports.render("github", production, base=ROOT)
    line = next(line for line in text.splitlines() if "evidence.model_reference" in line)
    assert "::InferenceService/lending/anonymous-model: InferenceService serves a model" in line
    assert isinstance(anonymous.violations[0], Violation)


def test_renderers_accept_an_empty_report():
    empty = {"production": Report(allowed=True, results=[])}
    for name in reports.FORMATS:
        assert reports.render(name, empty)
    assert json.loads(reports.render("sarif", empty))["runs"][0]["results"] == []


def test_merge_joins_chunks_in_input_order(production):
    whole = production["production"]
    first, second = whole.results[:1], whole.results[1:]
    merged = Report.merge([Report(allowed=False, results=first, skipped=whole.skipped),
                           Report(allowed=True, results=second, skipped=[])])
    assert [d.object.name for d in merged.results] == [d.object.name for d in whole.results]
    assert merged.skipped == whole.skipped and merged.allowed is False
    admitted = [d for d in whole.results if d.allowed]
    assert admitted and Report.merge([Report(allowed=False, results=admitted)]).allowed is True
    assert Report.merge([]) == Report(allowed=True, results=[], skipped=[])
