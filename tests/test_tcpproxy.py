"""tests/support/tcpproxy.py: forwarding, blackhole (no data, no EOF), reset (RST), threads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.support.ircd import IrcServer
from tests.support.net import free_port
from tests.support.rawirc import RawIrc
from tests.support.tcpproxy import TcpProxy, ThreadedTcpProxy


class EchoServer:
    """Loopback echo target; keeps what it received and can drop its connections."""

    def __init__(self) -> None:
        self.received = b""
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> EchoServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                self.received += data
                writer.write(data)
                await writer.drain()
        writer.close()

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()

    async def close(self) -> None:
        self.drop_all()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = await EchoServer().start()
    yield server
    await server.close()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", echo.port) as p:
        yield p


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


async def dial(proxy: TcpProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    data: bytes) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), 10)


async def test_forwards_both_ways_and_counts(proxy: TcpProxy, echo: EchoServer) -> None:
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"hello\r\n") == b"hello\r\n"
    big = bytes(range(256)) * 8192  # 2 MiB: flow control in both directions
    writer.write(big)
    got = await asyncio.wait_for(reader.readexactly(len(big)), 30)
    assert got == big
    r2, w2 = await dial(proxy)
    assert await roundtrip(r2, w2, b"second") == b"second"
    assert proxy.accepted == 2 and proxy.active == 2
    writer.write_eof()  # half-close reaches the target, whose close comes back as EOF
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    w2.close()
    await until(lambda: proxy.active == 0)


async def test_blackhole_forwards_nothing_and_hides_eof(proxy: TcpProxy,
                                                        echo: EchoServer) -> None:
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"before") == b"before"
    proxy.blackhole()
    writer.write(b"into the void")
    await writer.drain()
    await until(lambda: proxy.discarded == len(b"into the void"))
    assert echo.received == b"before"

    echo.drop_all()  # the target goes away; the client must not learn of it
    await until(lambda: proxy.swallowed_eofs >= 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    assert not reader.at_eof()

    proxy.restore()  # now the client sees the end that happened meanwhile
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_blackhole_applies_to_new_connections_until_restore(proxy: TcpProxy,
                                                                  echo: EchoServer) -> None:
    proxy.blackhole()
    reader, writer = await dial(proxy)
    writer.write(b"ping")
    await until(lambda: proxy.discarded == 4)
    assert echo.received == b""
    proxy.restore()
    assert await roundtrip(reader, writer, b"pong") == b"pong"
    assert echo.received == b"pong"
    writer.close()


async def test_reset_sends_rst_then_new_connections_forward(proxy: TcpProxy,
                                                            echo: EchoServer) -> None:
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"x") == b"x"
    assert proxy.reset() == 1
    with pytest.raises(ConnectionResetError):
        while await asyncio.wait_for(reader.read(65536), 10):
            pass
    writer.close()
    await until(lambda: proxy.active == 0)

    r2, w2 = await dial(proxy)
    assert await roundtrip(r2, w2, b"again") == b"again"
    assert proxy.accepted == 2
    w2.close()


async def test_reset_while_blackholed(proxy: TcpProxy) -> None:
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"y") == b"y"
    proxy.blackhole()
    proxy.reset()
    with pytest.raises(ConnectionResetError):
        while await asyncio.wait_for(reader.read(65536), 10):
            pass
    writer.close()


async def test_refused_target_resets_the_client() -> None:
    async with TcpProxy("127.0.0.1", free_port()) as proxy:
        reader, writer = await dial(proxy)
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
        assert proxy.accepted == 1


async def test_close_ends_connections_and_listening(echo: EchoServer) -> None:
    proxy = await TcpProxy("127.0.0.1", echo.port).start()
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"z") == b"z"
    await proxy.close()
    with contextlib.suppress(ConnectionResetError):
        assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()
    with pytest.raises(OSError):
        await dial(proxy)


async def test_fixture_factory(tcp_proxy: Callable[[str, int], Awaitable[TcpProxy]],
                               echo: EchoServer) -> None:
    proxy = await tcp_proxy("127.0.0.1", echo.port)
    reader, writer = await dial(proxy)
    assert await roundtrip(reader, writer, b"fixture") == b"fixture"
    writer.close()


def _wait(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def _blocking_roundtrip(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


async def test_threaded_proxy_same_api(echo: EchoServer) -> None:
    def scenario(target_port: int) -> None:
        with ThreadedTcpProxy("127.0.0.1", target_port) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
                assert _blocking_roundtrip(sock, b"threaded") == b"threaded"
                proxy.blackhole()
                sock.sendall(b"dropped")
                _wait(lambda: proxy.discarded == 7)
                proxy.restore()
                assert _blocking_roundtrip(sock, b"back") == b"back"
                assert proxy.reset() == 1
                with pytest.raises(ConnectionResetError):
                    while sock.recv(65536):
                        pass
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
                assert _blocking_roundtrip(sock, b"new") == b"new"
            assert proxy.accepted == 2
        assert echo.received == b"threadedbacknew"

    # the echo target runs on this test's loop; the proxy and the client in a thread
    await asyncio.to_thread(scenario, echo.port)


async def test_in_front_of_a_real_irc_server(miniircd: IrcServer) -> None:
    async with TcpProxy(miniircd.host, miniircd.port) as proxy:
        user = await RawIrc.connect("127.0.0.1", proxy.port, "proxied")
        try:
            await user.join("#p")
            proxy.reset()
            await until(lambda: user.lines[-1:] == [""])
            again = await RawIrc.connect("127.0.0.1", proxy.port, "proxied2")
            await again.join("#p")
            await again.close()
            assert proxy.accepted == 2
        finally:
            await user.close()
