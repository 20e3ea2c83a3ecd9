"""A loopback TCP proxy for fault tests: forward, blackhole, restore, reset (RST), close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest

T = TypeVar("T")
HOST = "127.0.0.1"


def _set_rst_on_close(transport: asyncio.BaseTransport | None) -> None:
    """SO_LINGER 0: closing the socket sends RST instead of FIN."""
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; hands what it reads to the other side."""

    def __init__(self, link: _Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.closed = False
        self.eof = False  # we read EOF from this socket
        self.wrote_eof = False  # we passed the other side's EOF on to this socket
        self._pending: list[bytes] = []  # read before the peer existed
        self._pending_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.link.proxy.blackholed:
            self.link.proxy.discarded += len(data)  # silently dropped
            return
        if self.peer is None or self.peer.transport is None:
            self._pending.append(data)
        elif not self.peer.closed:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        if self.link.proxy.blackholed:
            self.link.proxy.swallowed_eofs += 1  # the other side sees no EOF
            return True
        if self.peer is None or self.peer.transport is None:
            self._pending_eof = True
        else:
            self.peer.forward_eof()
        self._close_when_both_ended()
        return True  # keep the socket open for the other direction

    def forward_eof(self) -> None:
        if self.transport is not None and not self.closed and self.transport.can_write_eof():
            with contextlib.suppress(OSError, RuntimeError):
                self.transport.write_eof()
            self.wrote_eof = True
            self._close_when_both_ended()

    def _close_when_both_ended(self) -> None:
        if self.eof and self.wrote_eof and self.transport is not None and not self.closed:
            self.transport.close()

    def flush_pending(self) -> None:
        """Once the peer is connected: what was read meanwhile (unless blackholed since)."""
        assert self.peer is not None and self.peer.transport is not None
        data, self._pending = b"".join(self._pending), []
        if self.link.proxy.blackholed:
            return
        if data:
            self.peer.transport.write(data)
        if self._pending_eof:
            self.peer.forward_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.link.proxy.blackholed and not self.eof:
            self.link.proxy.swallowed_eofs += 1  # a reset/close the other side does not see
        self.link.side_lost(self)

    # flow control: a full write buffer on this side pauses reading on the other
    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.resume_reading()


class _Link:
    """A client connection and its upstream connection."""

    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = _Side(self)
        self.upstream: _Side | None = None
        self.connect_task: asyncio.Task[None] | None = None
        self.done = asyncio.get_running_loop().create_future()

    async def connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        upstream = _Side(self)
        try:
            await loop.create_connection(lambda: upstream, self.proxy.target_host,
                                         self.proxy.target_port)
        except OSError:
            self.abort()  # the client sees a reset, as if the target had refused
            return
        if self.client.closed and not self.proxy.blackholed:
            assert upstream.transport is not None
            upstream.transport.close()
        self.upstream = upstream
        self.client.peer, upstream.peer = upstream, self.client
        self.client.flush_pending()
        upstream.flush_pending()

    def side_lost(self, side: _Side) -> None:
        other = self.upstream if side is self.client else self.client
        if other is None:  # client gone before upstream connected
            if self.connect_task is not None:
                self.connect_task.cancel()
        elif not other.closed and other.transport is not None and not self.proxy.blackholed:
            other.transport.close()  # flushes, then FIN
        if self.client.closed and (self.upstream is None or self.upstream.closed):
            self.proxy.links.discard(self)
            if not self.done.done():
                self.done.set_result(None)

    def close_if_half_dead(self) -> None:
        """After restore(): a side that ended while blackholed takes the other along."""
        sides = [self.client, self.upstream]
        if any(s is None or s.closed for s in sides):
            for s in sides:
                if s is not None and s.transport is not None and not s.closed:
                    s.transport.close()
        elif self.upstream is not None:
            for s in sides:
                if s is not None and s.eof and s.peer is not None:
                    s.peer.forward_eof()

    def abort(self) -> None:
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None and not side.closed:
                _set_rst_on_close(side.transport)
                side.transport.abort()
        if self.upstream is None and self.connect_task is not None:
            self.connect_task.cancel()


class TcpProxy:
    """Asyncio TCP proxy on a free loopback port in front of ``target_host:target_port``.

    Use from the event loop that started it: ``async with TcpProxy(host, port) as proxy``
    (or ``await proxy.start()`` ... ``await proxy.close()``); point the client at
    ``proxy.port``. ``blackhole()``/``restore()``/``reset()`` take effect at once.
    """

    def __init__(self, target_host: str, target_port: int, *, host: str = HOST,
                 port: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = port
        self.accepted = 0  # connections accepted so far
        self.blackholed = False
        self.discarded = 0  # bytes dropped while blackholed
        self.swallowed_eofs = 0  # EOFs/closes seen while blackholed and not passed on
        self.links: set[_Link] = set()
        self._server: asyncio.Server | None = None

    @property
    def active(self) -> int:
        """Connections currently open (either side still up)."""
        return len(self.links)

    async def start(self) -> TcpProxy:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _new_client(self) -> _Side:
        self.accepted += 1
        link = _Link(self)
        self.links.add(link)
        link.connect_task = asyncio.get_running_loop().create_task(link.connect_upstream())
        return link.client

    def blackhole(self) -> None:
        """Keep every socket open but forward nothing (data and EOF are discarded).

        Applies to current and new connections until restore().
        """
        self.blackholed = True

    def restore(self) -> None:
        """Forward again (what was discarded stays lost); ends connections that died meanwhile."""
        self.blackholed = False
        for link in list(self.links):
            link.close_if_half_dead()

    def reset(self) -> int:
        """Abort every current connection with RST (both sides); returns how many.

        The proxy keeps listening; later connections are forwarded (unless blackholed).
        """
        links = list(self.links)
        for link in links:
            link.abort()
        return len(links)

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Until every connection is fully closed (e.g. after reset())."""
        pending = [link.done for link in self.links]
        if pending:
            await asyncio.wait_for(asyncio.gather(*pending), timeout)

    async def close(self) -> None:
        """Stop listening and abort every connection."""
        if self._server is not None:
            self._server.close()
            self.reset()
            with contextlib.suppress(TimeoutError):
                await self.wait_idle(5.0)
            await self._server.wait_closed()
            self._server = None
        else:
            self.reset()

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return (f"TcpProxy({self.host}:{self.port} -> {self.target_host}:{self.target_port}, "
                f"accepted={self.accepted}, active={self.active}, blackholed={self.blackholed})")


class ThreadedTcpProxy:
    """The same proxy on its own event loop thread, for blocking or process-level tests.

    Every method blocks until it has taken effect; ``reset()`` also waits until the
    connections are gone. ``with ThreadedTcpProxy(host, port) as proxy: ...``
    """

    def __init__(self, target_host: str, target_port: int, *, host: str = HOST,
                 port: int = 0) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"tcpproxy->{target_port}")
        self._thread.start()
        self.proxy = TcpProxy(target_host, target_port, host=host, port=port)
        self._call(self.proxy.start())
        self.host, self.port = self.proxy.host, self.proxy.port
        self.target_host, self.target_port = target_host, target_port

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _run(self, fn: Callable[[], T]) -> T:
        async def call() -> T:
            return fn()
        return self._call(call())

    @property
    def accepted(self) -> int:
        return self.proxy.accepted

    @property
    def active(self) -> int:
        return self._run(lambda: self.proxy.active)

    @property
    def blackholed(self) -> bool:
        return self.proxy.blackholed

    @property
    def discarded(self) -> int:
        return self.proxy.discarded

    @property
    def swallowed_eofs(self) -> int:
        return self.proxy.swallowed_eofs

    def blackhole(self) -> None:
        self._run(self.proxy.blackhole)

    def restore(self) -> None:
        self._run(self.proxy.restore)

    def reset(self) -> int:
        async def reset_and_wait() -> int:
            count = self.proxy.reset()
            with contextlib.suppress(TimeoutError):
                await self.proxy.wait_idle(10.0)
            return count
        return self._call(reset_and_wait())

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            self._call(self.proxy.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def __enter__(self) -> ThreadedTcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


MakeProxy = Callable[[str, int], Awaitable[TcpProxy]]  # the `tcp_proxy` fixture


@pytest.fixture
async def tcp_proxy() -> AsyncIterator[MakeProxy]:
    """``await tcp_proxy(host, port)``: a started TcpProxy in front of host:port (closed after)."""
    proxies: list[TcpProxy] = []

    async def make(target_host: str, target_port: int) -> TcpProxy:
        proxy = await TcpProxy(target_host, target_port).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in reversed(proxies):
        await proxy.close()
