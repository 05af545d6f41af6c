"""`gatekeeper check --at`: evaluate as of another time (CI: does this promotion survive next month?)."""

import shutil

import yaml

from .conftest import EVIDENCE, MANIFESTS, run_cli

COMPLIANT = str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml")
# The example sign-offs of credit-scoring 3 expire on 2031-11-21T08:25:38Z; its PII scan
# is of 2026-10-01 and its fairness results of 2026-11-20 (high risk: at most 365 days old).


def rescanned(tmp_path, at: str) -> str:
    """The example evidence with credit-scoring 3's PII scan and fairness evaluation redone at `at`."""
    root = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, root)
    path = root / "credit-scoring" / "3" / "evidence.yaml"
    bundle = yaml.safe_load(path.read_text())
    bundle["pii_scan"]["scanned_at"] = at
    for results in bundle["fairness"].values():
        results["evaluated_at"] = at
    path.write_text(yaml.safe_dump(bundle))
    return str(root)


def test_admitted_now_denied_once_its_signoffs_have_expired(cli, tmp_path):
    assert cli("check", COMPLIANT).code == 0
    evidence = rescanned(tmp_path, "2031-06-01T00:00:00Z")
    before = cli("check", "--at", "2031-11-21T08:25:37Z", "--format", "json", "--evidence", evidence, COMPLIANT)
    assert before.code == 0, before.stdout + before.stderr
    after = cli("check", "--at", "2031-11-21T10:25:39+02:00", "--format", "json", "--evidence", evidence, COMPLIANT)
    assert after.code == 1, after.stderr
    [decision] = after.json()["results"]
    assert {v["requirement"] for v in decision["violations"]} == {"signoff.role"}
    assert all("expired on 2031-11-21T08:25:38Z" in v["message"] for v in decision["violations"])


def test_warned_within_30_days_of_a_signoff_expiring(cli, tmp_path):
    evidence = rescanned(tmp_path, "2031-06-01T00:00:00Z")
    quiet = cli("check", "--at", "2031-10-21T08:25:37Z", "--format", "json", "--evidence", evidence, COMPLIANT)
    assert quiet.code == 0 and quiet.json()["results"][0]["warnings"] == []
    warned = cli("check", "--at", "2031-11-11T08:25:38Z", "--format", "json", "--evidence", evidence, COMPLIANT)
    assert warned.code == 0, warned.stdout + warned.stderr
    [decision] = warned.json()["results"]
    assert decision["warnings"] == [
        f"[signoff.role] credit-scoring@3: {role} sign-off expires in 10 days (2031-11-21T08:25:38Z)"
        for role in ("compliance", "validator")
    ]
    assert [(e["kind"], e["name"], e["expires_at"]) for e in decision["expiries"]] == [
        ("signoff", "compliance", "2031-11-21T08:25:38Z"), ("signoff", "validator", "2031-11-21T08:25:38Z"),
        # the age-limited evidence goes stale 365 days after it was produced (2031-06-01)
        ("evidence", "fairness.age_band", "2032-05-31T00:00:00Z"), ("evidence", "fairness.sex", "2032-05-31T00:00:00Z"),
        ("evidence", "pii_scan", "2032-05-31T00:00:00Z"),
    ]


def test_denied_once_its_pii_scan_is_older_than_a_year(cli):
    fresh = cli("check", "--at", "2027-10-01T00:00:00Z", COMPLIANT)
    assert fresh.code == 0, fresh.stdout + fresh.stderr
    stale = cli("check", "--at", "2027-10-02T00:00:00Z", "--format", "json", COMPLIANT)
    assert stale.code == 1, stale.stderr
    [decision] = stale.json()["results"]
    assert [(v["requirement"], v["message"], v["observed"], v["threshold"]) for v in decision["violations"]] == [(
        "evidence.stale",
        "pii_scan.scanned_at is 366.0 days old (2026-10-01T00:00:00Z), above the 365 days the class allows",
        366, 365,
    )]


def test_a_time_that_is_not_rfc3339_exits_2_with_one_line(cli):
    for text, words in [("next month", "is not an RFC 3339 time"), ("2031-11-21T08:00:00", "has no time zone")]:
        result = cli("check", "--at", text, COMPLIANT)
        assert result.code == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"gatekeeper: --at '{text}' {words}")


def test_a_remote_gate_decides_as_of_now():
    result = run_cli("check", "--at", "2031-11-21T08:00:00Z", "--remote", "http://127.0.0.1:9", COMPLIANT)
    assert result.code == 2
    assert result.stderr == "gatekeeper: --at evaluates here, as of another time; a running gate (--remote) decides as of now\n"
