"""The console's caches refresh off the page's path: past its TTL a page gets the last read
while one background read replaces it; past twice the TTL (or with nothing read yet) the
page waits for a fresh read. Real OPA and evidence; the clock is moved, never slept on."""

from __future__ import annotations

import asyncio

from gatekeeper.config import Settings
from gatekeeper.console.sources import INVENTORY_TTL_S, JUDGEMENT_TTL_S, InventoryUnavailable, Sources
from gatekeeper.pipeline.assemble import open_gate
from tests.clock import FakeClock
from tests.conftest import EVIDENCE, POLICIES


def row(name: str, namespace: str, model: str) -> dict:
    return {"name": name, "namespace": namespace, "environment": "production", "compliant": "true", "models": [model]}


def test_the_inventory_is_read_once_at_a_time_and_served_stale_within_its_bound(opa_url):
    clock = FakeClock()
    reads: list[int] = []
    release = asyncio.Event()

    async def reader(namespace: str | None) -> list[dict]:
        reads.append(len(reads))
        if len(reads) == 2:
            await release.wait()  # the background read is under way while pages are served
        if len(reads) == 4:
            raise InventoryUnavailable("Kubernetes API unreachable")
        return [row(f"svc-{len(reads)}", "team-a", "credit-scoring@7")]

    async def scenario() -> None:
        settings = Settings(opa_url=opa_url, evidence_dir=EVIDENCE, policy_dir=POLICIES)
        async with open_gate(settings, clock=clock.now) as gate:
            src = Sources(gate, None, reader, clock.now, clock.monotonic)
            first = await asyncio.gather(src.snapshot(), src.snapshot())  # nothing read yet: both wait for one read
            assert reads == [0] and first[0] is first[1]
            assert first[0].running("credit-scoring", "7")[0]["name"] == "svc-1"
            assert first[0].serving("credit-scoring") == first[0].rows and first[0].by_namespace["team-a"] == first[0].rows

            clock.advance(INVENTORY_TTL_S)  # stale: served at once, one background read starts
            assert (await src.snapshot()) is first[0] and (await src.snapshot()) is first[0]
            await asyncio.sleep(0)
            assert reads == [0, 1]
            release.set()
            await src._reading
            assert (await src.snapshot()).rows[0]["name"] == "svc-2"

            clock.advance(INVENTORY_TTL_S * 2)  # past the bound: the page waits for the fresh read
            assert (await src.snapshot()).rows[0]["name"] == "svc-3"

            clock.advance(INVENTORY_TTL_S * 2)
            try:
                await src.snapshot()
                raise AssertionError("an unreadable cluster must be said")
            except InventoryUnavailable as exc:
                assert "unreachable" in str(exc)
            await src.close()

    asyncio.run(scenario())


def test_judgements_are_renewed_in_the_background_then_waited_for_past_the_bound(opa_url):
    clock = FakeClock()

    async def scenario() -> None:
        settings = Settings(opa_url=opa_url, evidence_dir=EVIDENCE, policy_dir=POLICIES)
        async with open_gate(settings, clock=clock.now) as gate:
            src = Sources(gate, None, None, clock.now, clock.monotonic)
            first = (await src.judged([("credit-scoring", "7"), ("credit-scoring", "4")]))
            assert first[("credit-scoring", "4")].decision.violations  # judged by the real policy
            assert first[("credit-scoring", "7")].found.facts is not None  # with the evidence it was judged on

            clock.advance(JUDGEMENT_TTL_S)  # stale: the same judgement, while one batch re-judges
            again = await src.judge("credit-scoring", "4")
            assert again is first[("credit-scoring", "4")].decision
            assert src._judging is not None
            await src._judging
            renewed = await src.judge("credit-scoring", "4")
            assert renewed is not again and renewed.violations == again.violations

            clock.advance(JUDGEMENT_TTL_S * 2)  # past the bound: judged while the page waits
            waited = await src.judged([("credit-scoring", "4")])
            assert waited[("credit-scoring", "4")].at == clock.monotonic()
            await src.close()

    asyncio.run(scenario())
