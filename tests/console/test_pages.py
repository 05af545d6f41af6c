"""Each page shows the facts a person came for, read from the real log, OPA and evidence."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

from tests.console.conftest import DEPLOYED


def text(response) -> str:
    """What a person reads: the page without its tags, whitespace collapsed."""
    assert response.status_code == 200, response.text[:500]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.text)).split())


def test_overview_counts_workloads_by_environment_and_compliance(client, world):
    page = text(client.get("/"))
    rows = world["rows"]
    production = [r for r in rows if r["environment"] == "production"]
    staging = [r for r in rows if r["environment"] == "staging"]
    compliant = sum(r["compliant"] == "true" for r in production)
    failing = sum(r["compliant"] == "false" for r in production)
    assert failing >= 1 and compliant >= 1
    assert f"production {compliant} {failing} 0 {len(production)}" in page
    assert f"staging {sum(r['compliant'] == 'true' for r in staging)} {sum(r['compliant'] == 'false' for r in staging)} 0 {len(staging)}" in page
    assert f"{len(rows)} workloads" in page


def test_overview_lists_the_newest_denials_and_the_auditors_last_run(client):
    page = text(client.get("/"))
    assert "Newest denials" in page
    assert "InferenceService/lending/credit-scoring-v4" in page or "credit-scoring@4" in page
    assert "fairness." in page
    assert "Last re-judgement recorded" in page and "UTC" in page


def test_a_signoff_expiring_in_ten_days_shows_a_countdown(client, clock):
    version = client.get("/models/credit-scoring/7")
    signoffs = text(version).split("Sign-offs and waivers")[1].split("Evidence")[0]
    expires = max(re.findall(r"(\d{4}-\d\d-\d\d \d\d:\d\d) UTC", signoffs))  # signed, then expires
    expiry = datetime.strptime(expires, "%Y-%m-%d %H:%M").replace(tzinfo=timezone.utc)
    saved_wall, saved_elapsed = clock.wall, clock.elapsed
    try:
        clock.wall = expiry - timedelta(days=10)
        clock.elapsed += 3600  # past the console's judgement cache, as an hour would be
        page = text(client.get("/"))
        listed = page.split("expiring in the next 30 days")[1].split("Newest denials")[0]
        assert "credit-scoring@7" in listed
        assert "in 10 days" in listed
        assert "sign-off (validator)" in listed or "sign-off (compliance)" in listed
    finally:
        clock.wall, clock.elapsed = saved_wall, saved_elapsed + 7200


def test_nothing_expiring_says_so(client):
    assert "Nothing expires in the next 30 days." in text(client.get("/"))


def test_models_page_lists_versions_with_risk_class_and_where_they_run(client):
    page = text(client.get("/models"))
    assert "credit-scoring@3" in page and "churn-predictor@7" in page
    line = page.split("credit-scoring@4")[1].split("credit-scoring@5")[0]
    assert "high" in line
    assert "production" in line and "not compliant" in line
    assert "credit-scoring@12" in page  # evidence only: runs nowhere
    assert "nowhere" in page.split("credit-scoring@12")[1][:200]


def test_model_version_page_shows_evidence_violation_remediation_and_timeline(client):
    response = client.get("/models/credit-scoring/4")
    page = text(response)
    assert "Open violations" in page
    violations = page.split("Open violations")[1].split("Sign-offs and waivers")[0]
    assert "fairness." in violations and "What to do:" in violations
    fairness = page.split("Fairness")[1].split("Drift")[0]
    assert ">= 0.8" in fairness and "fails" in fairness
    regulations = page.split("Regulations:")[1]  # what the violated requirement serves (the regulation map)
    assert all(label in regulations for label in ("EU AI Act Art. 10", "ISO/IEC 42001 A.5.4", "NIST AI RMF MEASURE 2.11"))
    assert "alice@example.com" in page or "validator" in page  # the sign-offs with signer and role
    assert "<svg" in response.text and 'class="dot denied"' in response.text
    assert "webhook" in page.split("Decisions")[-1] and "background" in page.split("Decisions")[-1]


def test_a_compliant_version_has_no_open_violations(client):
    page = text(client.get("/models/credit-scoring/3"))
    assert "None: the policy admits this version in production." in page
    assert "compliant" in page


def test_unknown_model_version_is_a_404_with_the_reason(client):
    response = client.get("/models/no-such-model/1")
    assert response.status_code == 404
    assert "no model no-such-model version 1" in unescape(response.text)


def test_workloads_filters(client, world):
    everything = text(client.get("/workloads"))
    assert f"{len(world['rows'])} workloads" in everything
    failing = text(client.get("/workloads", params={"compliant": "false"}))
    assert "credit-scoring@4" in failing and "credit-scoring@3" not in failing
    staging = text(client.get("/workloads", params={"environment": "staging"}))
    expected = sum(r["environment"] == "staging" for r in world["rows"])
    assert f"{expected} workload" in staging and "production" not in staging.split("Open violations")[1]
    by_model = text(client.get("/workloads", params={"model": "churn-predictor"}))
    assert "churn-predictor@7" in by_model and "credit-scoring" not in by_model.split("Earliest expiry")[1]
    none = text(client.get("/workloads", params={"namespace": "nowhere"}))
    assert "No workloads match." in none


def test_decisions_filtered_by_model_and_outcome(client):
    page = text(client.get("/decisions", params={"model": "credit-scoring@4", "outcome": "denied"}))
    rows = page.split("Violations")[1]
    assert rows.count("credit-scoring@4") >= 2  # the admission and the background re-judgement
    assert "admitted" not in rows and "credit-scoring@3" not in rows


def test_decisions_filtered_by_source_user_namespace_and_time(client):
    background = text(client.get("/decisions", params={"source": "background"})).split("Violations")[1]
    assert "background" in background and "webhook" not in background
    carol = text(client.get("/decisions", params={"user": "carol@example.com"})).split("Violations")[1]
    assert "carol@example.com" in carol and "bob@example.com" not in carol
    retention = text(client.get("/decisions", params={"namespace": "retention"})).split("Violations")[1]
    assert "retention" in retention and "lending" not in retention
    future = text(client.get("/decisions", params={"since": "2999-01-01"}))
    assert "No decisions match these filters." in future


def test_decisions_are_paged_newest_first(client):
    first = client.get("/decisions", params={"limit": "2"})
    older = re.search(r'href="/decisions\?([^"]*before=\d+[^"]*)"', first.text)
    assert older, "a page of exactly `limit` rows links to the older ones"
    second = client.get("/decisions?" + unescape(older.group(1)))
    ids = lambda r: re.findall(r'href="/decisions/([0-9a-f]+)"', r.text)  # noqa: E731
    assert len(ids(first)) == 2 and ids(second) and not set(ids(first)) & set(ids(second))


def test_one_decision_page_with_its_proof(client, tmp_path):
    listing = client.get("/decisions", params={"model": "credit-scoring@4", "source": "webhook"})
    decision_id = re.search(r'href="/decisions/([0-9a-f]+)"', listing.text).group(1)
    page = text(client.get(f"/decisions/{decision_id}"))
    assert "denied" in page and "InferenceService/lending/" in page
    assert "bob@example.com" in page
    assert re.search(r"Evidence digest sha256:[0-9a-f]{64}", page)
    assert re.search(r"Policy revision \S+", page)
    assert "What to do:" in page
    assert re.search(r"Record \d+ is in the log's signed checkpoint of size \d+", page)
    proof = client.get(f"/decisions/{decision_id}/proof")
    assert proof.status_code == 200 and proof.json()["decision_id"] == decision_id
    assert "attachment" in proof.headers["content-disposition"]


def test_a_decision_after_the_newest_checkpoint_has_no_proof_yet(client):
    listing = client.get("/decisions", params={"source": "background"})
    decision_id = re.search(r'href="/decisions/([0-9a-f]+)"', listing.text).group(1)
    page = text(client.get(f"/decisions/{decision_id}"))
    assert "No proof yet:" in page and "not in a signed checkpoint yet" in page
    refused = client.get(f"/decisions/{decision_id}/proof", headers={"Accept": "application/json"})
    assert refused.status_code == 409 and "not in a signed checkpoint yet" in refused.json()["reason"]


def test_unknown_decision_is_a_404(client):
    response = client.get("/decisions/0123abcd")
    assert response.status_code == 404 and "no decision 0123abcd" in response.text


def test_policy_page_shows_the_matrix_thresholds_and_enforcement(client):
    page = text(client.get("/policy"))
    production = page.split("production")[1]
    assert "enforcement: deny" in page and "enforcement: warn" in page and "enforcement: dryrun" in page
    assert "demographic_parity_ratio_min: 0.8" in production
    assert "min_success_percent: 99" in production
    assert "roles: validator, compliance" in production


def test_bad_query_parameters_are_a_400_naming_them(client):
    for params, reason in [({"outcome": "maybe"}, "outcome must be one of admitted"),
                           ({"since": "yesterday"}, "since must be a date or time in ISO 8601"),
                           ({"limit": "0"}, "limit must be a whole number from 1 to 500"),
                           ({"before": "-3"}, "before must be a whole number"),
                           ({"colour": "red"}, "unknown query parameter 'colour'"),
                           ({"since": "2026-12-02", "until": "2026-12-01"}, "since must be before until")]:
        response = client.get("/decisions", params=params, headers={"Accept": "application/json"})
        assert response.status_code == 400, params
        assert reason in response.json()["reason"]
    page = client.get("/workloads", params={"compliant": "perhaps"})
    assert page.status_code == 400 and "compliant must be one of true, false, unknown" in unescape(page.text)


def test_deployed_examples_are_all_in_the_log(client):
    page = text(client.get("/decisions", params={"source": "webhook", "limit": "500"}))
    for _, _, user in DEPLOYED:
        assert user in page


def test_unindexed_filters_search_a_window_at_a_time(client, monkeypatch):
    from gatekeeper.console import queries

    ids = lambda page: set(re.findall(r'href="/decisions/([0-9a-f]+)"', page.text))  # noqa: E731
    expected = ids(client.get("/decisions", params={"user": "bob@example.com", "limit": "500"}))
    assert len(expected) >= 2
    monkeypatch.setattr(queries, "SEARCH_WINDOW", 2)
    found, cursor, pages = set(), None, 0
    while True:  # follow "older" / "search older records" to the log's first record
        page = client.get("/decisions", params={"user": "bob@example.com", **({"before": cursor} if cursor else {})})
        assert "Searched log records" in text(page)
        found |= ids(page)
        pages += 1
        older = re.search(r'href="/decisions\?[^"]*before=(\d+)[^"]*"', page.text)
        if not older:
            break
        cursor = older.group(1)
    assert found == expected
    assert pages >= 3  # two records a page: the log took several


def test_what_a_request_carries_is_shown_escaped(client):
    page = client.get("/decisions", params={"user": '"><script>alert(1)</script>'})
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_model_path_that_is_not_a_plain_name_is_a_400(client):
    response = client.get("/models/credit%09scoring/1", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "no path separators or control characters" in response.json()["reason"]


def test_quick_time_ranges_keep_the_other_filters(client, clock):
    page = client.get("/decisions", params={"outcome": "denied", "since": "2020-01-01"})
    day = re.search(r'href="/decisions\?([^"]+)">last 24 hours<', page.text).group(1)
    since = (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%MZ")
    assert unescape(day) == f"outcome=denied&since={since.replace(':', '%3A')}"
    rows = text(client.get("/decisions?" + unescape(day))).split("Violations")[1]
    assert "denied" in rows and "admitted" not in rows
