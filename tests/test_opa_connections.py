"""The decision query's own connections to OPA: reuse, recovery, and how failures read."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from urllib.parse import urlsplit

import pytest

from gatekeeper.opa.server import OpaServer, free_port
from gatekeeper.opa.client import PolicyEngine, PolicyError

from .conftest import POLICIES

# A workload serving no model: the decision is defined for any input.
INPUT = {"now": "2026-11-22T10:00:00Z", "environment": "production", "operation": "CREATE",
         "object": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "ml", "name": "scorer"},
         "models": [], "reference_errors": []}


async def test_decisions_and_management_calls_reuse_one_connection(opa_url):
    """Every call goes over one kept-alive connection: OPA's own counter of accepted
    connections would need a metrics scrape, so a loopback relay counts them instead."""
    upstream = urlsplit(opa_url)
    accepted = 0

    async def relay(reader, writer):
        nonlocal accepted
        accepted += 1
        up_reader, up_writer = await asyncio.open_connection(upstream.hostname, upstream.port)

        async def pipe(source, sink):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    engine = PolicyEngine(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        first = await engine.decide(INPUT)
        assert await engine.decide(INPUT) == first and "allowed" in first
        assert (await engine.facts()).environments["production"] == "deny"
        assert await engine.data("gatekeeper/environments") == ["development", "production", "staging"]
        assert accepted == 1
    finally:
        await engine.close()
        server.close()


async def test_a_restarted_opa_is_reached_again_without_an_error():
    server = OpaServer(POLICIES)
    server.start()
    engine = PolicyEngine(server.url)
    try:
        before = await engine.decide(INPUT)
        port = server.port
        server.stop()  # the pooled keep-alive connection is now dead
        await asyncio.to_thread(server.start, port=port)
        assert await engine.decide(INPUT) == before
    finally:
        await engine.close()
        server.stop()


async def test_an_undefined_decision_names_the_rule(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    (policies / "gatekeeper" / "decision.rego").unlink()
    (policies / "gatekeeper" / "decision_test.rego").unlink()
    (policies / "gatekeeper" / "batch.rego").unlink()
    (policies / "gatekeeper" / "batch_test.rego").unlink()
    with OpaServer(policies) as server:
        engine = PolicyEngine(server.url)
        try:
            with pytest.raises(PolicyError, match=r"data\.gatekeeper\.decision is undefined"):
                await engine.decide(INPUT)
        finally:
            await engine.close()


async def test_an_evaluation_error_is_reported_with_opas_message(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    # A second value for the complete decision rule: OPA answers 500 with a conflict error.
    (policies / "gatekeeper" / "conflict.rego").write_text(
        "package gatekeeper\n\ndecision := 1 if input.environment\n"
    )
    with OpaServer(policies) as server:
        engine = PolicyEngine(server.url)
        try:
            with pytest.raises(PolicyError, match=r"answered HTTP 500: .*decision produced conflicting values: 1 at \S*conflict\.rego:3"):
                await engine.decide(INPUT)
        finally:
            await engine.close()


@contextlib.asynccontextmanager
async def engine_facing(handle, timeout: float = 2):
    """A PolicyEngine pointed at a misbehaving HTTP peer that runs `handle` per connection."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    engine = PolicyEngine(url, timeout=timeout)
    try:
        yield engine, url
    finally:
        await engine.close()
        server.close()


async def test_a_peer_that_hangs_is_a_timeout_and_the_next_query_still_works():
    hung = asyncio.Event()

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        if not hung.is_set():
            hung.set()
            await asyncio.sleep(5)  # never answers in time
        body = b'{"result": {"allowed": true}}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()

    async with engine_facing(handle, timeout=0.3) as (engine, url):
        with pytest.raises(PolicyError, match=f"OPA at {url} did not answer in time"):
            await engine.decide(INPUT)
        assert await engine.decide(INPUT) == {"allowed": True}


@pytest.mark.parametrize(("answer", "reads"), [
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "is unreachable .*not valid HTTP"),
    (None, "is unreachable .*closed"),  # hangs up without answering
])
async def test_a_peer_that_does_not_answer_http_is_named(answer, reads):
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        if answer is None:
            writer.close()
            return
        writer.write(answer)
        await writer.drain()

    async with engine_facing(handle) as (engine, url):
        with pytest.raises(PolicyError, match=f"OPA at {url} {reads}"):
            await engine.decide(INPUT)


async def test_nothing_listening_is_unreachable():
    url = f"http://127.0.0.1:{free_port()}"
    engine = PolicyEngine(url, timeout=2)
    try:
        with pytest.raises(PolicyError, match=f"OPA at {url} is unreachable"):
            await engine.decide(INPUT)
    finally:
        await engine.close()
