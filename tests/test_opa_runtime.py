"""The OPA process the gate starts: ready when it answers, gone when the gate is gone."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gatekeeper.opa.server import OpaServer, OpaStartError, free_port
from gatekeeper.opa.client import PolicyEngine, PolicyError

from .conftest import POLICIES, ROOT, require_tool


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_start_answers_and_stop_leaves_nothing():
    server = OpaServer(POLICIES, binary=require_tool("opa"))
    server.start()
    pid = server.pid
    environments = asyncio.run(_environments(server.url))
    assert environments == ["development", "production", "staging"]
    server.stop()
    assert not alive(pid)


async def _environments(url: str):
    engine = PolicyEngine(url)
    try:
        return await engine.data("gatekeeper/environments")
    finally:
        await engine.close()


def test_opa_dies_with_a_crashed_parent(tmp_path):
    script = (
        "import sys, time; from gatekeeper.opa.server import OpaServer; "
        f"s = OpaServer({str(POLICIES)!r}); s.start(); print(s.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    opa_pid = int(parent.stdout.readline())
    assert alive(opa_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(opa_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(opa_pid), "OPA outlived the process that started it"


def test_invalid_policies_fail_start_with_the_reason(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "gatekeeper" / "broken.rego").write_text("package gatekeeper.broken\n\nx := \n")
    with pytest.raises(OpaStartError, match="rego_parse_error|parse"):
        OpaServer(policies).start()


def test_go_processors_are_set_only_when_asked_and_the_environment_wins(monkeypatch):
    from gatekeeper.opa.server import opa_environment

    monkeypatch.delenv("GOMAXPROCS", raising=False)
    assert "GOMAXPROCS" not in opa_environment()  # gatekeeper check: Go's default
    assert opa_environment(1)["GOMAXPROCS"] == "1"  # beside a serving webhook
    monkeypatch.setenv("GOMAXPROCS", "3")
    assert opa_environment(1)["GOMAXPROCS"] == "3"


def test_missing_binary_is_a_clear_error(tmp_path):
    with pytest.raises(OpaStartError, match="OPA binary not found"):
        OpaServer(POLICIES, binary=str(tmp_path / "no-opa")).start()


def test_policy_revision_follows_the_loaded_data(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    with OpaServer(policies) as first:
        before = asyncio.run(_revision(first.url))
        again = asyncio.run(_revision(first.url))
    matrix = policies / "gatekeeper" / "matrix" / "requirements.yaml"
    matrix.write_text(matrix.read_text().replace("demographic_parity_ratio_min: 0.80", "demographic_parity_ratio_min: 0.85"))
    with OpaServer(policies) as second:
        after = asyncio.run(_revision(second.url))
    assert before == again and before.startswith("sha256:")
    assert after != before


def test_policy_revision_follows_the_rego_and_not_where_it_was_loaded_from(tmp_path):
    copies = []
    for name in ("a", "b"):
        copies.append(tmp_path / name / "policies")
        shutil.copytree(POLICIES, copies[-1])
    with OpaServer(copies[0]) as first, OpaServer(copies[1]) as second:
        here, there = asyncio.run(_revision(first.url)), asyncio.run(_revision(second.url))
    rule = copies[1] / "gatekeeper" / "decision.rego"
    rule.write_text(rule.read_text() + "\n# a comment is a change to the reviewed text\n")
    with OpaServer(copies[1]) as changed:
        after = asyncio.run(_revision(changed.url))
    assert here == there  # the same modules and data from another folder
    assert after != there


def test_policy_revision_of_an_unreachable_opa_names_opa():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PolicyError, match=f"OPA at {url} is unreachable"):
        asyncio.run(_revision(url))


async def _revision(url: str) -> str:
    engine = PolicyEngine(url)
    try:
        return await engine.revision()
    finally:
        await engine.close()


def test_unreachable_opa_is_a_policy_error_naming_opa():
    url = f"http://127.0.0.1:{free_port()}"

    async def ask():
        engine = PolicyEngine(url, timeout=1)
        try:
            await engine.decide({})
        finally:
            await engine.close()

    with pytest.raises(PolicyError, match=f"OPA at {url} is unreachable"):
        asyncio.run(ask())
