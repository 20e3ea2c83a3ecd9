"""The outgoing HTTP client: httpx on its own transport, against a loopback server."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gzip
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ntrbot.soundcloud.outgoing import OutgoingTransport, http_client, proxy_for
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[1]


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"method": request.method, "body": (await request.read()).decode(),
                              "type": request.headers.get("Content-Type"),
                              "agent": request.headers.get("User-Agent"),
                              "query": dict(request.query)})


async def _gzip(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(b'{"zipped": true}'),
                        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


async def _cut(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Length": "1000"})
    await response.prepare(request)
    await response.write(b"partial")
    assert request.transport is not None
    request.transport.close()
    return response


async def _moved(request: web.Request) -> web.Response:
    raise web.HTTPFound("/echo?from=moved")


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/echo", _echo)
    app.router.add_get("/gzip", _gzip)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/cut", _cut)
    app.router.add_get("/moved", _moved)
    async with TestServer(app, host="127.0.0.1") as s:
        yield cast(TestServer, s)  # __aenter__ is typed as the base class


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with http_client("ntrbot-test/1") as c:
        yield c


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[int]:
    """A loopback TCP server answering with `handler` (bytes as written); yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def url(server: TestServer, path: str) -> str:
    return str(server.make_url(path))


async def test_a_get_carries_the_user_agent_and_the_query(server: TestServer,
                                                          client: httpx.AsyncClient) -> None:
    r = await client.get(url(server, "/echo"), params={"client_id": "x"})
    assert r.status_code == 200 and r.reason_phrase == "OK"
    assert r.json() == {"method": "GET", "body": "", "type": None, "agent": "ntrbot-test/1",
                        "query": {"client_id": "x"}}


async def test_a_json_post_arrives_as_json(server: TestServer,
                                           client: httpx.AsyncClient) -> None:
    r = await client.post(url(server, "/echo"), json={"a": 1})
    got = r.json()
    assert got["method"] == "POST" and json.loads(got["body"]) == {"a": 1}
    assert got["type"] == "application/json"


async def test_httpx_follows_the_redirect(server: TestServer, client: httpx.AsyncClient) -> None:
    r = await client.get(url(server, "/moved"))
    assert r.status_code == 200 and r.json()["query"] == {"from": "moved"}
    assert [h.status_code for h in r.history] == [302]


async def test_a_compressed_body_is_decoded_once(server: TestServer,
                                                 client: httpx.AsyncClient) -> None:
    assert (await client.get(url(server, "/gzip"))).json() == {"zipped": True}


async def test_a_refused_connection_is_httpx_connect_error(client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.ConnectError):
        await client.get(f"http://127.0.0.1:{free_port()}/")


async def test_a_silent_server_is_httpx_read_timeout(server: TestServer) -> None:
    async with http_client("t", timeout=httpx.Timeout(0.2, connect=2.0)) as c:
        with pytest.raises(httpx.ReadTimeout):
            await c.get(url(server, "/slow"))


async def test_a_cut_response_is_a_transport_error(server: TestServer,
                                                   client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(url(server, "/cut"))


async def test_close_closes_the_kept_alive_connection() -> None:
    closed = asyncio.Event()

    async def keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        if await reader.read() == b"":
            closed.set()
        writer.close()

    async with raw_server(keep_alive) as port:
        async with http_client("t") as c:
            assert (await c.get(f"http://127.0.0.1:{port}/")).text == "ok"
            assert not closed.is_set()
        await asyncio.wait_for(closed.wait(), 10)


async def test_the_client_is_httpx_alone() -> None:
    """No bridge to aiohttp's client, so no private hook into it (issue 23 item 4)."""
    tree = ast.parse((REPO / "ntrbot" / "soundcloud" / "outgoing.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import)
                              else [ast.alias(node.module or "")])}
    assert "aiohttp" not in imported and "yarl" not in imported
    assert "httpx" in imported
    async with http_client("t") as c:
        assert isinstance(c._transport, OutgoingTransport)


async def test_one_call_is_one_request_when_the_server_hangs_up() -> None:
    """No resend of a GET on a dropped connection (aiohttp's client did); the callers count
    attempts."""
    seen: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    async with raw_server(hang_up) as port:
        async with http_client("t") as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(f"http://127.0.0.1:{port}/likes")
    assert len(seen) == 1


async def test_raw_query_reaches_the_server_unchanged() -> None:
    got: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async with raw_server(answer) as port:
        async with http_client("t") as c:
            await c.get(f"http://127.0.0.1:{port}/a%3Ab/%7Ex?u=https%3A%2F%2Fx%2Fa%3Fb%3D1")
    assert got == [b"GET /a%3Ab/%7Ex?u=https%3A%2F%2Fx%2Fa%3Fb%3D1 HTTP/1.1"]


async def test_no_netrc_credentials_are_sent(server: TestServer, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login operator password s3cret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    hits: list[str | None] = []

    async def auth(request: web.Request) -> web.Response:
        hits.append(request.headers.get("Authorization"))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", auth)
    async with TestServer(app, host="127.0.0.1") as s, http_client("t") as c:
        await c.get(str(s.make_url("/")))
    assert hits == [None]


@pytest.mark.parametrize(("env", "target", "proxy"), [
    ({"ALL_PROXY": "http://127.0.0.1:3128"}, "http://api.example/x", "http://127.0.0.1:3128"),
    ({"HTTPS_PROXY": "http://p:1"}, "https://api.example/x", "http://p:1"),
    ({"HTTPS_PROXY": "http://p:1"}, "http://api.example/x", None),
    ({"ALL_PROXY": "http://p:1", "NO_PROXY": "api.example"}, "http://api.example/x", None),
    ({}, "http://api.example/x", None),
])
def test_proxies_come_from_the_environment_as_httpx_took_them(
        env: dict[str, str], target: str, proxy: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(httpx.URL(target)) == proxy


async def test_an_unsupported_scheme_is_not_a_network_error(
        client: httpx.AsyncClient) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await client.get("ftp://127.0.0.1/file")


async def test_a_long_response_header_is_accepted() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Security-Policy: " + b"a" * 9000
                     + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    async with raw_server(answer) as port:
        async with http_client("t") as c:
            r = await c.get(f"http://127.0.0.1:{port}/")
    assert r.status_code == 200 and len(r.headers["content-security-policy"]) == 9000


async def test_an_endless_response_header_is_a_protocol_error() -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 300_000 + b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async with raw_server(answer) as port:
        async with http_client("t") as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(f"http://127.0.0.1:{port}/")


async def test_requests_go_through_the_proxy_of_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTP proxy from ALL_PROXY gets the absolute URL; NO_PROXY hosts go direct."""
    lines: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0])
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    async with raw_server(proxy) as port, raw_server(proxy) as direct:
        monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("NO_PROXY", "localhost")
        async with http_client("t") as c:
            assert (await c.get("http://api.example/likes?x=%2F")).text == "ok"
            assert (await c.get(f"http://localhost:{direct}/here")).text == "ok"
    assert lines == [b"GET http://api.example/likes?x=%2F HTTP/1.1", b"GET /here HTTP/1.1"]


async def test_an_unusable_proxy_is_a_proxy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("ALL_PROXY", "gopher://user:pw@127.0.0.1:70")
    async with http_client("t") as c:
        with pytest.raises(httpx.ProxyError) as raised:
            await c.get("http://api.example/x")
    assert "pw" not in str(raised.value)
