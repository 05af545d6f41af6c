"""The console in a real browser (Debian's Chromium through Playwright), against the real
kube-apiserver, the real auditor's PolicyReports, a real OPA and a real decision log
(tests/browser/world.py). Each scenario asserts what a person sees on the page, and the
expectation comes from elsewhere: the cluster's own objects, the log as `gatekeeper audit
list` prints it, the matrix YAML. One control plane, one OPA, one console and one browser
for the module; PostgreSQL for the log in one scenario.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import psycopg
import pytest
import yaml
from kubernetes import client
from playwright.sync_api import Browser, Page, expect

from gatekeeper.auditor.client import REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION
from gatekeeper.config import Settings
from gatekeeper.opa.server import OpaServer

from ..audit.audit_pg_server import PostgresServer, PostgresUnavailable
from ..clock import FakeClock
from ..conftest import require_tool, run_cli
from ..e2e.cluster import KubeBinariesMissing
from ..e2e.test_auditor_e2e import EXPIRIES, policies_copy
from .chromium import artifact
from .world import NAMESPACES, NOW, TOKEN, WORKLOADS, Console, cluster_kube, evidence_dated, populate, \
    record_admissions, record_and_audit, run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("console-world")
    try:
        plane, kube = cluster_kube(folder / "kube")
    except KubeBinariesMissing as exc:
        pytest.fail(f"{exc} (or run `make kube`, which builds them)", pytrace=False)
    policies = policies_copy(folder / "policies")
    opa = OpaServer(policies, binary=require_tool("opa"))
    console = None
    try:
        opa_url = opa.start()
        populate(kube)
        audit_db = f"sqlite:///{folder / 'audit.db'}"
        settings = Settings(opa_url=opa_url, evidence_dir=evidence_dated(folder / "evidence"), policy_dir=policies,
                            audit_db=audit_db, evidence_cache_ttl=0.0)
        clock = FakeClock(NOW)
        run(record_and_audit(settings, kube, clock, audit_db))
        clock.wall = NOW
        console = Console(settings, kube.api_client, clock).start()
        yield {"kube": kube, "console": console, "settings": settings, "clock": clock, "policies": policies,
               "audit_db": audit_db}
    finally:
        if console is not None:
            console.stop()
        opa.stop()
        kube.api_client.close()
        plane.stop()


@pytest.fixture
def url(world: dict[str, Any]) -> str:
    return world["console"].url


def sign_in(page: Page, url: str, path: str = "/") -> None:
    """As a person does: open the page, get the login form, type the token."""
    page.goto(url + path)
    expect(page.get_by_label("Console token")).to_be_visible()
    page.get_by_label("Console token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: urlparse(u).path == urlparse(url + path).path)


def table(page: Page, selector: str = "main table") -> list[dict[str, str]]:
    """The rows of a table as a person reads them: header -> cell text (headers as written:
    the style sheet capitalises them)."""
    return page.locator(selector).first.evaluate("""t => {
        const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent.trim());
        return [...t.querySelectorAll('tbody tr')].map(r => Object.fromEntries(
            [...r.children].map((c, i) => [heads[i], c.innerText.trim()])));
    }""")


def audit_list(audit_db: str) -> list[dict[str, Any]]:
    """The log as `gatekeeper audit list --format json` prints it: the expectations' source."""
    result = run_cli("audit", "list", "--audit-db", audit_db, "--format", "json", "--limit", "10000")
    assert result.code == 0, result.stderr
    return result.json()


def labels(record: dict[str, Any]) -> set[str]:
    return {f"{m['name']}@{m.get('version') or ''}" for m in record.get("models", [])}


# --- the overview -----------------------------------------------------------------------------


def test_the_overview_counts_match_the_cluster(world, url, page: Page) -> None:
    kube = world["kube"]
    environment_of = {ns.metadata.name: (ns.metadata.labels or {}).get("model-gatekeeper.io/environment")
                      for ns in kube.core.list_namespace().items}
    reports = client.CustomObjectsApi(kube.api_client).list_cluster_custom_object(
        REPORT_GROUP, REPORT_VERSION, REPORT_PLURAL)["items"]
    assert len(reports) == len(WORKLOADS)  # one per workload, as the auditor writes them
    expected: dict[str, Counter[str]] = {}
    for report in reports:
        summary = report.get("summary") or {}
        compliant = "Not compliant" if summary.get("fail") or summary.get("error") else "Compliant"
        expected.setdefault(environment_of[report["metadata"]["namespace"]], Counter())[compliant] += 1

    sign_in(page, url)
    shown = {row["Environment"]: row for row in table(page, "table.counts")}
    assert set(shown) == set(expected) == set(NAMESPACES.values())
    for environment, count in expected.items():
        row = shown[environment]
        assert int(row["Compliant"]) == count["Compliant"], (environment, row)
        assert int(row["Not compliant"]) == count["Not compliant"], (environment, row)
        assert int(row["Total"]) == sum(count.values()), (environment, row)
    assert page.locator("table.counts tfoot").inner_text().endswith(f"{len(reports)} workloads")
    # the background auditor ran at NOW, which the page shows as its last cycle
    expect(page.locator("section", has_text="Background auditor")).to_contain_text("just now")


def test_a_signoff_expiring_in_10_days_shows_a_countdown(world, url, page: Page) -> None:
    role, expires = min(EXPIRIES.items(), key=lambda item: item[1])
    days = math.floor((expires - world["clock"].now()).total_seconds() / 86400)
    assert days == 10  # the world's clock is set so (tests/browser/world.py)
    sign_in(page, url)
    expiring = page.locator("section", has_text="expiring in the next 30 days")
    row = expiring.locator("tr", has_text=f"({role})").filter(has_text="credit-scoring@3")
    expect(row).to_have_count(1)
    expect(row.locator("td.countdown")).to_contain_text(f"in {days} days")
    expect(row.locator("td.countdown")).to_contain_text(expires.strftime("%Y-%m-%d %H:%M UTC"))

    # the same countdown on the model version's page, in its sign-off row
    row.get_by_role("link", name="credit-scoring@3").click()
    page.wait_for_url(f"{url}/models/credit-scoring/3")
    signoff = page.locator("section", has_text="Sign-offs and waivers").locator("tbody tr").filter(has_text=role)
    expect(signoff.first.locator("td.countdown")).to_contain_text(f"in {days} days")


# --- from a workload to its model version -----------------------------------------------------


def test_from_a_non_compliant_workload_to_its_violation_and_remediation(world, url, page: Page) -> None:
    kube = world["kube"]
    name = "scoring-v4"
    report = client.CustomObjectsApi(kube.api_client).get_namespaced_custom_object(
        REPORT_GROUP, REPORT_VERSION, "lending", REPORT_PLURAL, f"gatekeeper-inferenceservice-{name}")
    failed = {r["policy"] for r in report["results"] if r["result"] == "fail"}
    assert failed  # the example is unfair: the auditor failed it
    remediation = yaml.safe_load((world["policies"] / "gatekeeper" / "matrix" / "requirements.yaml").read_text())[
        "remediation"]

    sign_in(page, url)
    # overview -> production's "Not compliant" count -> the workload -> its model version
    production = page.locator("table.counts tbody tr", has_text="production")
    production.locator("td").nth(1).get_by_role("link").click()
    page.wait_for_url(lambda u: parse_qs(urlparse(u).query) == {"environment": ["production"], "compliant": ["false"]})
    rows = table(page)
    assert [r["Workload"] for r in rows] == [f"InferenceService/{name}"]
    assert set(rows[0]["Open violations"].split()) == failed
    page.locator("tbody tr", has_text=name).get_by_role("link", name="credit-scoring@4").click()
    page.wait_for_url(f"{url}/models/credit-scoring/4")

    expect(page.locator("h1")).to_have_text("credit-scoring@4")
    expect(page.locator("dl.facts").first).to_contain_text(f"lending/InferenceService/{name}")
    violations = page.locator("section", has_text="Open violations").locator("li.violation")
    shown = {v.locator("code").first.inner_text(): v for v in violations.all()}
    assert failed <= set(shown), (failed, set(shown))
    for requirement in failed:
        text = " ".join(remediation[requirement].split())
        expect(shown[requirement].locator("p.remediation")).to_contain_text(text[:60])
    # the fairness table shows the failing attribute against its threshold
    expect(page.locator("section", has_text="Evidence").locator("tr.bad").first).to_be_visible()


# --- decisions --------------------------------------------------------------------------------


def decisions_filtered(page: Page, url: str, model: str, outcome: str) -> list[str]:
    """Filter the decisions page through its form; the decision IDs the table links to."""
    page.goto(f"{url}/decisions")
    page.get_by_label("Model").fill(model)
    page.get_by_label("Outcome").select_option(outcome)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(lambda u: parse_qs(urlparse(u).query).get("outcome") == [outcome])
    assert parse_qs(urlparse(page.url).query)["model"] == [model]
    return [href.rsplit("/", 1)[-1] for href in page.locator("main tbody tr td:first-child a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")]


def expected_ids(records: list[dict[str, Any]], model: str, outcome: str) -> list[str]:
    return [r["decision_id"] for r in records if r["outcome"] == outcome and model in labels(r)]


def test_the_decisions_page_filtered_by_model_and_outcome(world, url, page: Page) -> None:
    records = audit_list(world["audit_db"])
    pairs = sorted({(label, r["outcome"]) for r in records for label in labels(r)})
    assert len({outcome for _, outcome in pairs}) >= 2 and ("credit-scoring@4", "denied") in pairs, pairs
    sign_in(page, url)
    for model, outcome in pairs:
        wanted = expected_ids(records, model, outcome)
        assert decisions_filtered(page, url, model, outcome) == wanted, (model, outcome)
        for row in table(page):
            assert row["Outcome"] == outcome and model in row["Models"].split(), row
    # a filter nothing matches says so
    unmatched = next((m, o) for m in sorted({m for m, _ in pairs}) for o in ("admitted", "denied", "warned", "error")
                     if (m, o) not in pairs)
    assert decisions_filtered(page, url, *unmatched) == []
    expect(page.locator("main")).to_contain_text("No decisions match these filters.")


def test_a_decisions_page(world, url, page: Page) -> None:
    [record] = [r for r in audit_list(world["audit_db"]) if r["source"] == "webhook" and r["outcome"] == "denied"]
    sign_in(page, url)
    assert record["decision_id"] in decisions_filtered(page, url, "credit-scoring@4", "denied")
    page.locator("main tbody tr", has_text="webhook").first.locator("td").first.get_by_role("link").click()
    page.wait_for_url(f"{url}/decisions/{record['decision_id']}")

    expect(page.locator("h1")).to_have_text(f"Decision {record['decision_id']}")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("denied")
    expect(facts).to_contain_text(f"user {record['user']}")
    expect(facts).to_contain_text(record["evidence_digest"])
    expect(facts).to_contain_text(record["policy_revision"])
    expect(facts).to_contain_text(f"{record['object']['namespace']}")
    shown = {c.inner_text() for c in page.locator("ul.violations li.violation > code").all()}
    assert shown == {v["requirement"] for v in record["violations"]}


# --- the policy -------------------------------------------------------------------------------


def merged_matrix(path: Path) -> dict[str, Any]:
    """environment -> class -> family -> settings, as the matrix YAML says (overrides merged
    key by key over the class's settings; a null family dropped)."""
    matrix = yaml.safe_load(path.read_text())
    merged: dict[str, Any] = {}
    for environment in matrix["environments"]:
        classes = {}
        for risk_class, families in matrix["risk_classes"].items():
            families = dict(families)
            for family, settings in ((matrix.get("overrides") or {}).get(environment, {}).get(risk_class) or {}).items():
                if settings is None:
                    families.pop(family, None)
                elif isinstance(settings, dict) and isinstance(families.get(family), dict):
                    families[family] = {**families[family], **settings}
                else:
                    families[family] = settings
            classes[risk_class] = families
        merged[environment] = classes
    return merged


def test_the_policy_pages_thresholds_match_the_matrix(world, url, page: Page) -> None:
    matrix_path = world["policies"] / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix = yaml.safe_load(matrix_path.read_text())
    expected = merged_matrix(matrix_path)
    sign_in(page, url, "/policy")
    checked = 0
    for environment, classes in expected.items():
        section = page.locator("section").filter(has=page.locator("h2", has_text=environment))
        expect(section.locator("h2")).to_contain_text(f"enforcement: {matrix['environments'][environment]['enforcement']}")
        cells = section.locator("table.matrix").evaluate("""t => {
            const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent.trim());
            return Object.fromEntries([...t.querySelectorAll('tbody tr')].map(r => [r.children[0].innerText.trim(),
                Object.fromEntries([...r.children].slice(1).map((c, i) => [heads[i + 1],
                    [...c.querySelectorAll('li')].map(li => li.innerText.trim())]))]));
        }""")
        for risk_class, families in classes.items():
            for family, settings in families.items():
                if not isinstance(settings, dict):
                    continue
                shown = dict(item.split(": ", 1) for item in cells[family][risk_class])
                for setting, value in settings.items():
                    if isinstance(value, bool) or not isinstance(value, (int, float)):
                        continue
                    assert float(shown[setting]) == value, (environment, risk_class, family, setting, shown)
                    checked += 1
    # every numeric threshold of every class in every environment: fairness floors, PII, ages...
    assert checked == sum(1 for classes in expected.values() for families in classes.values()
                          for settings in families.values() if isinstance(settings, dict)
                          for value in settings.values() if isinstance(value, (int, float)) and not isinstance(value, bool))
    assert checked >= len(expected) * 10, checked


# --- access ------------------------------------------------------------------------------------


def test_unauthenticated_requests_get_the_login_page_or_401_never_data(world, url, page: Page) -> None:
    for path in ("/", "/models", "/models/credit-scoring/4", "/workloads", "/decisions", "/policy"):
        page.goto(url + path)
        assert urlparse(page.url).path == "/login", (path, page.url)
        expect(page.get_by_label("Console token")).to_be_visible()
        main = page.locator("main").inner_text()
        assert "credit-scoring" not in main and "lending" not in main, (path, main)
    some_id = audit_list(world["audit_db"])[0]["decision_id"]
    for path in ("/", "/models/credit-scoring/4", "/workloads?compliant=false", f"/decisions/{some_id}", "/policy"):
        for headers in ({}, {"authorization": "Bearer not-the-console-token-at-all"},
                        {"cookie": f"gatekeeper_console={TOKEN}"}):  # the token itself is not a session
            answer = httpx.get(url + path, headers={"accept": "application/json", **headers}, timeout=30)
            assert answer.status_code == 401, (path, headers, answer.status_code)
            assert "credit-scoring" not in answer.text and some_id not in answer.text
    answer = httpx.post(f"{url}/login", data={"token": "wrong-token-wrong-token", "next": "/"}, timeout=30)
    assert answer.status_code == 401 and "credit-scoring" not in answer.text


def test_signing_in_through_the_form_opens_the_page_asked_for(world, url, page: Page) -> None:
    page.goto(f"{url}/decisions?outcome=denied")
    page.get_by_label("Console token").fill("not-the-token-not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("p.problem")).to_have_text("That token is not the console's token.")
    page.get_by_label("Console token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/decisions?outcome=denied")
    expect(page.locator("header .who")).to_contain_text("signed in with the token")
    assert {row["Outcome"] for row in table(page)} == {"denied"}
    # the session is a cookie for this site only, which a script on the page cannot read
    [cookie] = [c for c in page.context.cookies() if c["name"] == "gatekeeper_console"]
    assert cookie["httpOnly"] and cookie["value"] != TOKEN
    page.get_by_role("link", name="sign out").click()
    page.goto(f"{url}/decisions")
    assert urlparse(page.url).path == "/login"


# --- PostgreSQL -------------------------------------------------------------------------------


def test_the_decisions_page_reads_a_postgresql_log(world, browser: Browser, request: pytest.FixtureRequest) -> None:
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start PostgreSQL: {exc}", pytrace=False)
    console = None
    context = browser.new_context(timezone_id="UTC")
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE console")
        audit_db = server.url_for("console")
        settings = world["settings"].model_copy(update={"audit_db": audit_db})
        clock = FakeClock(NOW)
        run(record_admissions(settings, clock, audit_db))
        console = Console(settings, world["kube"].api_client, clock).start()
        page = context.new_page()
        sign_in(page, console.url)
        records = audit_list(audit_db)
        wanted = expected_ids(records, "credit-scoring@4", "denied")
        assert wanted and decisions_filtered(page, console.url, "credit-scoring@4", "denied") == wanted
        page.locator("main tbody tr").first.locator("td").first.get_by_role("link").click()
        page.wait_for_url(f"{console.url}/decisions/{wanted[0]}")
        expect(page.locator("dl.facts")).to_contain_text("user bob@example.com")
        page.screenshot(path=artifact(request.node.name), full_page=True)
    finally:
        context.close()
        if console is not None:
            console.stop()
        server.stop()


# --- the README's screenshots -----------------------------------------------------------------

README_SCREENSHOTS = os.environ.get("GATEKEEPER_README_SCREENSHOTS")  # a folder: `make screenshots` sets docs/


def test_the_overview_and_a_model_versions_page_as_the_readme_shows_them(world, url, page: Page) -> None:
    page.set_viewport_size({"width": 1200, "height": 800})
    sign_in(page, url)
    expect(page.locator("table.counts")).to_be_visible()
    shots = {"console-overview.png": page.screenshot(full_page=True)}
    page.goto(f"{url}/models/credit-scoring/4")
    expect(page.locator("li.violation").first).to_be_visible()
    shots["console-model-version.png"] = page.screenshot()  # the top: facts, violations, sign-offs
    for name, png in shots.items():
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name
        artifact(name.removesuffix(".png")).write_bytes(png)
        if README_SCREENSHOTS:
            Path(README_SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            (Path(README_SCREENSHOTS) / name).write_bytes(png)
