"""`gatekeeper check --at`: evaluate as of another time (CI: does this promotion survive next month?)."""

from .conftest import MANIFESTS, run_cli

COMPLIANT = str(MANIFESTS / "compliant" / "credit-scoring-inferenceservice.yaml")
# The example sign-offs of credit-scoring 3 expire on 2031-11-21T08:25:38Z.


def test_admitted_now_denied_once_its_signoffs_have_expired(cli):
    assert cli("check", COMPLIANT).code == 0
    before = cli("check", "--at", "2031-11-21T08:25:37Z", "--format", "json", COMPLIANT)
    assert before.code == 0, before.stdout + before.stderr
    after = cli("check", "--at", "2031-11-21T10:25:39+02:00", "--format", "json", COMPLIANT)
    assert after.code == 1, after.stderr
    [decision] = after.json()["results"]
    assert {v["requirement"] for v in decision["violations"]} == {"signoff.role"}
    assert all("expired on 2031-11-21T08:25:38Z" in v["message"] for v in decision["violations"])


def test_a_time_that_is_not_rfc3339_exits_2_with_one_line(cli):
    for text, words in [("next month", "is not an RFC 3339 time"), ("2031-11-21T08:00:00", "has no time zone")]:
        result = cli("check", "--at", text, COMPLIANT)
        assert result.code == 2 and result.stdout == ""
        assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"gatekeeper: --at '{text}' {words}")


def test_a_remote_gate_decides_as_of_now():
    result = run_cli("check", "--at", "2031-11-21T08:00:00Z", "--remote", "http://127.0.0.1:9", COMPLIANT)
    assert result.code == 2
    assert result.stderr == "gatekeeper: --at evaluates here, as of another time; a running gate (--remote) decides as of now\n"
