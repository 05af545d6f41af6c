"""`gatekeeper audit list|verify` through typer's CliRunner: output and exit codes."""

import asyncio
import json

import pytest
from typer.testing import CliRunner

from gatekeeper.audit import open_store
from gatekeeper.cli.audit import app

from .audit_data import raw_sql, record

runner = CliRunner()


def make_log(url, n=4):
    async def fill():
        async with await open_store(url) as store:
            for i in range(n):
                denied = i % 2 == 1
                await store.append(record(i, model="b" if denied else "a", allowed=not denied, violations=int(denied)))

    asyncio.run(fill())


def run(*args, env=None):
    result = runner.invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_verify_exit_codes(store_url):
    url = store_url
    make_log(url)
    ok = run("verify", "--audit-db", url)
    assert (ok.exit_code, ok.stdout) == (0, "audit log intact: 4 records\n")

    raw_sql(url, "UPDATE audit_records SET body = replace(body, 'below', 'above') WHERE seq = 2")
    bad = run("verify", "--audit-db", url)
    assert bad.exit_code == 1
    assert bad.stdout == "audit log NOT intact: record 2 was changed: its content does not match its hash\n"


def test_verify_unreadable_store_exits_2(tmp_path):
    missing = run("verify", "--audit-db", f"sqlite:///{tmp_path}/nope.db")
    assert missing.exit_code == 2 and missing.stdout == ""
    assert missing.stderr == (f"gatekeeper: audit store sqlite:///{tmp_path}/nope.db: "
                              "no audit log there (file does not exist)\n")

    (tmp_path / "garbage.db").write_text("this is not a database, just text " * 100)
    garbage = run("verify", "--audit-db", str(tmp_path / "garbage.db"))
    assert garbage.exit_code == 2 and garbage.stderr.count("\n") == 1 and "file is not a database" in garbage.stderr

    for url in ("mysql://db/audit", "postgresql://nobody@127.0.0.1:1/audit"):
        other = run("verify", "--audit-db", url)
        assert other.exit_code == 2 and other.stderr.startswith(f"gatekeeper: audit store {url}: ")
        assert other.stderr.count("\n") == 1


def test_list_json_with_filters(sqlite_url):
    make_log(sqlite_url)
    out = run("list", "--audit-db", sqlite_url, "--format", "json")
    assert out.exit_code == 0
    records = json.loads(out.stdout)
    assert [r["seq"] for r in records] == [4, 3, 2, 1]
    assert records[0]["object"]["apiVersion"] == "serving.kserve.io/v1beta1" and len(records[0]["hash"]) == 64

    denied = json.loads(run("list", "--audit-db", sqlite_url, "--format", "json", "--outcome", "denied").stdout)
    assert [r["decision_id"] for r in denied] == ["decision-3", "decision-1"]
    assert denied[0]["violations"][0]["requirement"] == "fairness.demographic_parity_ratio"
    by_model = json.loads(run("list", "--audit-db", sqlite_url, "--format", "json", "--model", "a@3", "--limit", "1").stdout)
    assert [r["decision_id"] for r in by_model] == ["decision-2"]
    later = run("list", "--audit-db", sqlite_url, "--format", "json", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02")
    assert json.loads(later.stdout) == []


def test_list_by_source(sqlite_url):
    async def fill():
        async with await open_store(sqlite_url) as store:
            for i, source in enumerate(["webhook", "background", "background"]):
                await store.append(record(i).model_copy(update={"source": source}))

    asyncio.run(fill())
    out = run("list", "--audit-db", sqlite_url, "--format", "json", "--source", "background")
    assert out.exit_code == 0 and [r["seq"] for r in json.loads(out.stdout)] == [3, 2]
    table = run("list", "--audit-db", sqlite_url, "--source", "background").stdout.splitlines()
    assert len(table) == 3 and all(line.rstrip().endswith("background") for line in table[1:])
    bad = run("list", "--audit-db", sqlite_url, "--source", "cron")
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    # A local `check` records nothing: offering `--source cli` would promise records that never come.
    never = run("list", "--audit-db", sqlite_url, "--source", "cli")
    assert never.exit_code == 2 and "'cli' is not one of" in never.output and "api" in never.output


def test_list_postgres_json(pg_url):
    make_log(pg_url, 3)
    out = run("list", "--audit-db", pg_url, "--format", "json", "--model", "b")
    assert out.exit_code == 0 and [r["seq"] for r in json.loads(out.stdout)] == [2]


def test_list_table(sqlite_url):
    make_log(sqlite_url)
    out = run("list", "--audit-db", sqlite_url)
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["seq", "time", "(UTC)"]
    assert "denied" in lines[1] and "InferenceService/lending/svc-3" in lines[1] and "b@3" in lines[1]


@pytest.mark.parametrize(
    "args",
    [
        ["--since", "yesterday"],
        ["--until", "2026-13-01"],
        ["--outcome", "maybe"],
        ["--limit", "0"],
        ["--format", "xml"],
    ],
)
def test_list_bad_input_exits_2_without_traceback(sqlite_url, args):
    make_log(sqlite_url, 1)
    out = run("list", "--audit-db", sqlite_url, *args)
    assert out.exit_code == 2 and "Traceback" not in out.output


def test_list_missing_store_exits_2(tmp_path):
    out = run("list", "--audit-db", str(tmp_path / "none.db"))
    assert out.exit_code == 2 and "does not exist" in out.stderr and out.stdout == ""


def test_the_log_defaults_to_the_gatekeeper_audit_db_setting(store_url, tmp_path):
    make_log(store_url, 3)
    from_setting = run("verify", env={"GATEKEEPER_AUDIT_DB": store_url})
    assert (from_setting.exit_code, from_setting.stdout) == (0, "audit log intact: 3 records\n")
    flag_wins = run("verify", "--audit-db", str(tmp_path / "none.db"), env={"GATEKEEPER_AUDIT_DB": store_url})
    assert flag_wins.exit_code == 2 and "none.db" in flag_wins.stderr
