"""A policy revision as an OPA bundle: what the gate stores for replay reproduces the revision
exactly, OPA started on it evaluates as the folder did, and the policies stay deterministic."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import pytest

from gatekeeper.opa import bundle
from gatekeeper.opa.client import PolicyEngine
from gatekeeper.opa.server import OpaServer

from .conftest import POLICIES, require_tool


@pytest.fixture(scope="module")
def snapshot(opa_url):
    async def read():
        engine = PolicyEngine(opa_url)
        try:
            facts = await engine.facts()
            return (facts, *await engine.snapshot())
        finally:
            await engine.close()

    return asyncio.run(read())


async def test_the_bundle_holds_exactly_the_revision_opa_loaded(snapshot, tmp_path):
    facts, revision, modules, data = snapshot
    assert revision == facts.revision
    built = bundle.build(modules, data)
    assert built == bundle.build(modules, data)  # same policies, same bytes
    assert bundle.digest_of(built) == revision
    _, _, manifest = bundle.read(built)
    assert manifest["revision"] == revision

    # OPA started on the bundle reports the same revision and decides as the folder's OPA.
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(built)
    with OpaServer(path, binary=require_tool("opa")) as server:
        engine = PolicyEngine(server.url)
        try:
            assert await engine.revision() == revision
            assert (await engine.facts()).problems == []
            assert await engine.version() == _opa_version()
        finally:
            await engine.close()


async def test_an_edited_bundle_no_longer_holds_its_revision(snapshot):
    _, revision, modules, data = snapshot
    edited = dict(data)
    edited["gatekeeper/matrix"] = {**data["gatekeeper/matrix"], "edited": True}
    assert bundle.digest_of(bundle.build(modules, edited)) != revision
    with pytest.raises(bundle.BundleError, match="not a readable OPA bundle"):
        bundle.read(b"not gzip")


def test_every_data_document_in_the_policy_folder_is_part_of_the_revision():
    # A data file outside POLICY_DATA would change decisions without changing the revision,
    # and replay from the stored bundle would evaluate without it.
    data_files = [p for p in POLICIES.rglob("*") if p.suffix in (".yaml", ".yml", ".json")
                  and ".regal" not in p.parts]
    assert data_files
    for path in data_files:
        document = path.parent.relative_to(POLICIES).as_posix()
        assert any(document == d or document.startswith(d + "/") for d in bundle.POLICY_DATA), path


def test_the_lint_knows_every_builtin_this_opa_marks_nondeterministic():
    capabilities = json.loads(subprocess.run([require_tool("opa"), "capabilities", "--current"],
                                             capture_output=True, check=True, text=True).stdout)
    marked = {b["name"] for b in capabilities["builtins"] if b.get("nondeterministic")}
    listed = subprocess.run([require_tool("opa"), "eval", "--format", "raw", "--data", str(POLICIES),
                             "json.marshal(sort(data.gatekeeper.lint.nondeterministic))"],
                            capture_output=True, check=True, text=True).stdout
    assert set(json.loads(listed)) == marked


async def test_the_gate_refuses_a_policy_that_reads_the_clock(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "gatekeeper" / "lib" / "clock.rego").write_text(
        "package gatekeeper.lib.clock\n\nnow := time.now_ns()\n")
    with OpaServer(policies, binary=require_tool("opa")) as server:
        engine = PolicyEngine(server.url)
        try:
            problems = (await engine.facts()).problems
        finally:
            await engine.close()
    assert any(line.endswith("gatekeeper/lib/clock.rego: calls time.now_ns, whose result depends on more than "
                             "the input and the policy: its decisions could not be replayed") for line in problems)


def _opa_version() -> str:
    out = subprocess.run([require_tool("opa"), "version"], capture_output=True, check=True, text=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Version:"))
