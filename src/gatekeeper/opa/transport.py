"""Keep-alive HTTP/1.1 connections to OPA: every query the gate makes, decisions first.

Every admission review costs one decision query. Through aiohttp (which opa-python-client
wraps) a query cost about 2.5x the client CPU and twice the latency of this transport on
the 2-core machines the gate is sized for (`make bench`; README, "The hot path"): a
general client's cookie, redirect, tracing and header machinery, and headers and body
sent as separate writes. Here a request is one pre-built buffer, one write, and the
answer is parsed by httptools (the parser uvicorn uses). The policy list, the data
documents and the policy facts use the same connections."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httptools


class ConnectionFailed(ConnectionError):
    """The connection broke, or OPA's answer was not HTTP."""


@dataclass
class HttpAnswer:
    status: int
    body: bytes


class _Connection(asyncio.Protocol):
    """One TCP connection; one request at a time (HTTP/1.1 without pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.answered_anything = False  # any byte of an answer arrived on this connection
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[HttpAnswer] | None = None
        self._body: list[bytes] = []
        self._keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.answered_anything = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionFailed(f"OPA's answer is not valid HTTP ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionFailed(f"connection closed ({exc})" if exc else "connection closed by OPA"))

    # httptools callbacks
    def on_body(self, chunk: bytes) -> None:
        self._body.append(chunk)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()
        answer = HttpAnswer(self._parser.get_status_code(), b"".join(self._body))
        self._body = []
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(answer)

    # client side
    async def send(self, request: bytes) -> HttpAnswer:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            return await self._waiter
        finally:
            self._waiter = None

    @property
    def reusable(self) -> bool:
        return not self.closed and self._keep_alive

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)


class OpaConnections:
    """A small pool of keep-alive connections to one OPA server."""

    def __init__(self, host: str, port: int, *, use_tls: bool = False, max_connections: int = 32) -> None:
        self.host = host
        self.port = port
        self._ssl = ssl.create_default_context() if use_tls else None
        self._host_header = f"{host}:{port}"
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def post_json(self, path: str, body: bytes) -> HttpAnswer:
        """POST a JSON body; the caller bounds the time (asyncio.timeout)."""
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host_header}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii") + body
        return await self._exchange(request)

    async def get(self, path: str) -> HttpAnswer:
        """GET a document; the caller bounds the time (asyncio.timeout)."""
        return await self._exchange(f"GET {path} HTTP/1.1\r\nHost: {self._host_header}\r\n\r\n".encode("ascii"))

    async def _exchange(self, request: bytes) -> HttpAnswer:
        # Both methods are idempotent reads of OPA, which is what makes the one retry below safe.
        async with self._slots:
            connection, reused = await self._connection()
            try:
                answer = await connection.send(request)
            except ConnectionFailed:
                connection.close()
                if not (reused and not connection.answered_anything):
                    raise
                # An idle keep-alive connection that OPA had already closed: the query never
                # reached it (no answer at all), and evaluating it twice is harmless.
                connection = await self._new_connection()
                try:
                    answer = await connection.send(request)
                except BaseException:
                    connection.close()
                    raise
            except BaseException:
                # Cancelled or timed out mid-request: the late answer would confuse the next user.
                connection.close()
                raise
            if connection.reusable:
                connection.answered_anything = False
                self._idle.append(connection)
            else:
                connection.close()
            return answer

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    async def _connection(self) -> tuple[_Connection, bool]:
        while self._idle:
            connection = self._idle.pop()  # most recently used: the least likely to be stale
            if not connection.closed:
                return connection, True
        return await self._new_connection(), False

    async def _new_connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None
        )
        return connection
