"""`gatekeeper check --at`: evaluate as of another time (CI: does this promotion survive next month?)."""

import base64
import json
import shutil
from datetime import datetime, timedelta, timezone

import yaml

from .conftest import EVIDENCE, MANIFESTS, run_cli, unreviewed_policies

COMPLIANT = str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml")
# credit-scoring 3's PII scan is of 2026-10-01 and its fairness results of 2026-11-20 (high risk: at
# most 365 days old); its example
# sign-offs expire 730 days after scripts/make-examples.py last signed them.


def expiry(role: str) -> datetime:
    envelope = json.loads((EVIDENCE / "credit-scoring" / "3" / "signoffs" / f"{role}.dsse.json").read_text())
    stamp = json.loads(base64.b64decode(envelope["payload"]))["predicate"]["expires_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def stamp(moment: datetime, offset: timedelta = timedelta(0)) -> str:
    return moment.astimezone(timezone(offset)).isoformat().replace("+00:00", "Z")


EXPIRES = {role: expiry(role) for role in ("compliance", "validator")}
FIRST, LAST = min(EXPIRES.values()), max(EXPIRES.values())


def rescanned(tmp_path, at: str) -> tuple[str, str]:
    """The example evidence with credit-scoring 3's PII scan and fairness evaluation redone at `at`, and a policy
    folder whose sign-offs cover neither (this matrix lets a scan or evaluation be re-run
    without a new sign-off; the shipped one does not)."""
    root = tmp_path / "evidence"
    shutil.copytree(EVIDENCE, root)
    path = root / "credit-scoring" / "3" / "evidence.yaml"
    bundle = yaml.safe_load(path.read_text())
    bundle["pii_scan"]["scanned_at"] = at
    for results in bundle["fairness"].values():
        results["evaluated_at"] = at
    path.write_text(yaml.safe_dump(bundle))
    return str(root), unreviewed_policies(tmp_path, ["pii_scan", "fairness"])


def at(moment: datetime, evidence: str, policies: str, *extra: str):
    return run_cli("check", "--at", moment if isinstance(moment, str) else stamp(moment), "--format", "json",
                   "--evidence", evidence, "--policy-dir", policies, *extra, COMPLIANT)


def test_admitted_now_denied_once_its_signoffs_have_expired(cli, tmp_path):
    assert cli("check", COMPLIANT).code == 0
    evidence, policies = rescanned(tmp_path, stamp(FIRST - timedelta(days=180)))
    before = at(FIRST - timedelta(seconds=1), evidence, policies)
    assert before.code == 0, before.stdout + before.stderr
    after = at(stamp(LAST + timedelta(seconds=1), timedelta(hours=2)), evidence, policies)
    assert after.code == 1, after.stderr
    [decision] = after.json()["results"]
    assert {v["requirement"] for v in decision["violations"]} == {"signoff.role"}
    assert all(f"expired on {stamp(EXPIRES[v['threshold']])}" in v["message"] for v in decision["violations"])


def test_warned_within_30_days_of_a_signoff_expiring(cli, tmp_path):
    evidence, policies = rescanned(tmp_path, stamp(FIRST - timedelta(days=180)))
    quiet = at(FIRST - timedelta(days=31), evidence, policies)
    assert quiet.code == 0 and quiet.json()["results"][0]["warnings"] == [], quiet.stdout
    warned = at(FIRST - timedelta(days=10), evidence, policies)
    assert warned.code == 0, warned.stdout + warned.stderr
    [decision] = warned.json()["results"]
    assert decision["warnings"] == [
        f"[signoff.role] credit-scoring@3: {role} sign-off expires in {(EXPIRES[role] - FIRST).days + 10} days "
        f"({stamp(EXPIRES[role])})"
        for role in ("compliance", "validator")
    ]
    assert [(e["kind"], e["name"], e["expires_at"]) for e in decision["expiries"]] == [
        *[("signoff", role, stamp(EXPIRES[role])) for role in sorted(EXPIRES, key=lambda r: (EXPIRES[r], r))],
        # the age-limited evidence goes stale 365 days after it was produced
        *[("evidence", name, stamp(FIRST + timedelta(days=185)))
          for name in ("fairness.age_band", "fairness.sex", "pii_scan")],
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
