"""The MLflow source keeps one HTTP session: lookups reuse its connections, `close()` ends them.

Counted at a TCP relay between the source and a real MLflow server, so the test sees what
the registry sees: how many connections were opened, and whether they are still open.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from gatekeeper.evidence.mlflow.source import MlflowEvidenceSource
from gatekeeper.types.decision import ModelRef

from .registry import DataScientist


@dataclass
class Relay:
    """Forwards every TCP connection to the upstream port and counts them."""

    upstream_port: int
    opened: int = 0
    open_now: int = 0
    tasks: set[asyncio.Task] = field(default_factory=set)

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open_now += 1
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer))
        finally:
            self.open_now -= 1
            for writer in (client_writer, server_writer):
                writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if writer.can_write_eof():
                writer.write_eof()

    async def settle(self) -> None:
        """Let closes travel through the relay before counting."""
        for _ in range(50):
            await asyncio.sleep(0.02)
            if self.open_now == 0:
                return

    def stop(self) -> None:
        self.server.close()


def test_lookups_share_one_session_and_close_ends_it(scientist: DataScientist, mlflow_server):
    version = scientist.train(f"fraud-{uuid.uuid4().hex[:8]}")
    ref = ModelRef(ref=version.ref, name=version.model, version=version.version)

    async def scenario() -> tuple[int, int, int, int]:
        relay = Relay(int(mlflow_server.url.rsplit(":", 1)[1]))
        url = await relay.start()
        try:
            source = MlflowEvidenceSource(url, timeout=10.0)
            first = await source.load(ref)
            after_first = relay.opened
            second = await source.load(ref)
            assert second.bundle == first.bundle and second.revision == first.revision
            after_second = relay.opened
            still_open = relay.open_now
            await source.close()
            await relay.settle()
            return after_first, after_second, still_open, relay.open_now
        finally:
            relay.stop()

    after_first, after_second, still_open, after_close = asyncio.run(scenario())
    assert after_first >= 1
    assert after_second == after_first, "the second lookup opened new connections instead of reusing the session's"
    assert still_open >= 1, "the session's connections should stay open between lookups"
    assert after_close == 0, "close() left connections to the registry open"
