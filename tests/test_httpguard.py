"""The server's header-read deadline (slowloris) and headers on parser errors, raw sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from ntrbot.app import create_app
from ntrbot.http.httpguard import HEADER_TIMEOUT, GuardedAppRunner, parse_error_text
from ntrbot.settings import Settings
from tests.support.net import free_port

DEADLINE = 0.3  # the test's deadline; the real one is HEADER_TIMEOUT


@pytest.fixture
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[tuple[str, int]]:
    app = create_app(make_settings(), start_poller=False)
    runner = GuardedAppRunner(app, header_timeout=DEADLINE, access_log=None,
                              shutdown_timeout=1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield "127.0.0.1", port
    await runner.cleanup()


async def _closed_by_server(reader: asyncio.StreamReader, within: float = 10.0) -> bool:
    """True when the server closes the connection (EOF) before `within` seconds pass."""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(4096), within)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_the_deadline_is_15_seconds() -> None:
    assert HEADER_TIMEOUT == 15.0


async def test_incomplete_request_heads_are_closed(server: tuple[str, int]) -> None:
    host, port = server
    idle = [await asyncio.open_connection(host, port) for _ in range(3)]  # nothing at all
    partial = []
    for _ in range(3):  # a header line now and then, never the blank line
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        partial.append((reader, writer))
    for reader, writer in [*idle, *partial]:
        writer.write(b"X-Slow: 1\r\n")
        assert await _closed_by_server(reader)
        writer.close()


async def test_complete_requests_and_kept_alive_ones_still_work(
        server: tuple[str, int]) -> None:
    host, port = server
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    await reader.readexactly(length)
    # the next request on the same connection: its head never ends either
    writer.write(b"GET /health HTTP/1.1\r\n")
    assert await _closed_by_server(reader)
    writer.close()


async def test_a_websocket_is_not_cut_by_the_deadline(server: tuple[str, int]) -> None:
    import aiohttp

    host, port = server
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"http://{host}:{port}/ws/public") as ws:
            assert (await ws.receive_json(timeout=5))["type"] == "hello"
            await asyncio.sleep(DEADLINE * 3)
            assert not ws.closed


async def _raw(server: tuple[str, int], request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the answer's status, headers and body (the server closes after it)."""
    reader, writer = await asyncio.open_connection(*server)
    writer.write(request)
    data = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            data += chunk
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


BAD_REQUESTS = {
    # aiohttp's C parser calls it a bad message, its Python one an invalid header
    "header-without-colon": (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
                             None),
    "10k-url": (b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                "request line or header too long"),
    "10k-header": (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 10_000
                   + b"\r\n\r\n", "request line or header too long"),
    "not-http": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                 "not an HTTP request"),
    "bad-content-length": (b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n",
                           None),
}


@pytest.mark.parametrize("request_bytes, error", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
async def test_a_request_the_parser_refuses_gets_a_json_error_and_the_headers(
        server: tuple[str, int], request_bytes: bytes, error: str | None) -> None:
    status, headers, body = await _raw(server, request_bytes)
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    answer = json.loads(body)
    assert set(answer) == {"error"} and (error is None or answer["error"] == error)
    assert b"aaaa" not in body and b"bbbb" not in body  # the request is never quoted back
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("status, exc, text", [
    (500, None, "internal error"),
    (504, None, "timed out"),
    (413, None, "request entity too large"),
    (400, RuntimeError("x"), "malformed HTTP request"),
])
def test_parse_error_text_never_says_more_than_the_kind(status: int, exc: BaseException | None,
                                                         text: str) -> None:
    assert parse_error_text(status, exc) == text


def test_ntrbot_run_serves_through_the_guarded_runner() -> None:
    import inspect

    from ntrbot import serve

    assert "GuardedAppRunner(" in inspect.getsource(serve.serve)
