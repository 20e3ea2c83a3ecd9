"""/ws/announce: subscribe token, 4001 on wrong token or silence, status, announce, isolation."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from ntrbot import keys
from ntrbot.announcing.outputs.relay_hub import Relay, RelayHub
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, BEARER
from tests.support.fakes import FakeIrc
from tests.support.net import wait_until
from tests.support.plugin import MakeApp
from tests.support.seed import seed_app

SUBSCRIBE = {"type": "subscribe", "token": ADMIN_TOKEN}


def hub_app(make_app: MakeApp, make_settings: Callable[..., Settings],
            **hub_kw: Any) -> web.Application:
    """The app with FakeIrc and an announce hub of `hub_kw` (short timeouts)."""
    settings = make_settings()
    app = make_app(settings, FakeIrc())
    hub = app[keys.HUB] = RelayHub(events=app[keys.EVENTS], **hub_kw)
    app[keys.RELAYS] = hub.outputs
    return app


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any,
                     make_app: MakeApp) -> tuple[web.Application, TestClient[Any, Any]]:
    # auth_timeout: 5 s to subscribe, so that a busy machine never closes a subscribing test
    # socket with 4001 (test_silence_closes_4001 has its own short one)
    app = hub_app(make_app, make_settings, auth_timeout=5.0, send_timeout=0.5, queue_size=8)
    return app, await aiohttp_client(app)


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def subscribe(client: TestClient[Any, Any]) -> Any:
    ws = await client.ws_connect("/ws/announce")
    await ws.send_json(SUBSCRIBE)
    return ws


def test_default_timeouts() -> None:
    hub = RelayHub()
    assert hub.auth_timeout == 10.0 and hub.heartbeat > 0 and hub.subscribers == 0


@pytest.mark.parametrize("first", [
    {"type": "subscribe", "token": "wrong"},
    {"type": "subscribe", "token": ADMIN_TOKEN + "x"},
    {"type": "subscribe"},
    {"type": "subscribe", "token": None},
    {"type": "subscribe", "token": 12345},
    {"type": "hello", "token": ADMIN_TOKEN},
    [ADMIN_TOKEN],
    "not json",
])
async def test_wrong_token_closes_4001(app_client: Any, first: Any) -> None:
    app, client = app_client
    ws = await client.ws_connect("/ws/announce")
    if isinstance(first, str):
        await ws.send_str(first)
    else:
        await ws.send_json(first)
    msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE
    assert ws.close_code == 4001
    assert app[keys.HUB].subscribers == 0


async def test_binary_first_message_closes_4001(app_client: Any) -> None:
    _, client = app_client
    ws = await client.ws_connect("/ws/announce")
    await ws.send_bytes(json.dumps(SUBSCRIBE).encode())
    await ws.receive(timeout=5)
    assert ws.close_code == 4001


async def test_silence_closes_4001(make_settings: Callable[..., Settings], aiohttp_client: Any,
                                   make_app: MakeApp) -> None:
    client = await aiohttp_client(hub_app(make_app, make_settings, auth_timeout=0.5))
    # the clock starts before the connect, so the server's 0.5 s window (which opens after
    # the upgrade) lies wholly inside what is measured however slow the handshake is
    t0 = time.monotonic()
    ws = await client.ws_connect("/ws/announce")
    msg = await ws.receive(timeout=10)  # the bound: a socket never closed fails here
    assert msg.type == WSMsgType.CLOSE and ws.close_code == 4001
    assert time.monotonic() - t0 >= 0.45  # it waited for the subscribe, not closed at once


async def test_status_on_join_and_leave(app_client: Any) -> None:
    app, client = app_client
    a = await subscribe(client)
    assert await recv_json(a) == {"type": "status", "subscribers": 1}
    b = await subscribe(client)
    assert await recv_json(b) == {"type": "status", "subscribers": 2}
    assert await recv_json(a) == {"type": "status", "subscribers": 2}
    await b.close()
    assert await recv_json(a) == {"type": "status", "subscribers": 1}
    assert app[keys.HUB].subscribers == 1
    health = await (await client.get("/health")).json()
    assert health["subscribers"] == 1


async def test_announce_reaches_subscribers(app_client: Any) -> None:
    app, client = app_client
    show_id, _ = await seed_app(app)
    a, b = await subscribe(client), await subscribe(client)
    await recv_json(a), await recv_json(a), await recv_json(b)
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 3},
                          headers=BEARER)
    body = await r.json()
    assert body["subscribers"] == 2
    for ws in (a, b):
        msg = await recv_json(ws)
        assert msg == {
            "type": "announce", "id": body["id"], "message": body["message"],
            "show_id": show_id, "position": 3, "track": body["track"],
            "announced_at": body["announced_at"]}
        assert msg["track"]["title"] == "Tunnels" and msg["track"]["position"] == 3


async def test_ping_gets_pong(app_client: Any) -> None:
    _, client = app_client
    ws = await subscribe(client)
    await recv_json(ws)
    await ws.send_json({"type": "ping"})
    assert await recv_json(ws) == {"type": "pong"}


async def _raw_subscriber(host: str, port: int) -> tuple[asyncio.StreamReader,
                                                          asyncio.StreamWriter]:
    """A WebSocket client that subscribes and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws/announce HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert b" 101 " in head.split(b"\r\n")[0]
    payload = json.dumps(SUBSCRIBE).encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    frame = bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(frame)
    await writer.drain()
    return reader, writer


async def test_stuck_subscriber_never_delays_others(app_client: Any) -> None:
    app, client = app_client
    hub: RelayHub = app[keys.HUB]
    fast = await subscribe(client)
    assert (await recv_json(fast))["subscribers"] == 1
    _, writer = await _raw_subscriber(client.host, client.port)
    assert (await recv_json(fast))["subscribers"] == 2
    big = "x" * 200_000
    t0 = time.monotonic()
    for i in range(30):
        hub.broadcast({"type": "announce", "message": f"{i}", "pad": big})
        msg = await recv_json(fast, timeout=2)
        while msg["type"] == "status":
            assert msg["subscribers"] == 1  # the stuck one was dropped
            msg = await recv_json(fast, timeout=2)
        assert msg["message"] == str(i)
        await asyncio.sleep(0.02)
    assert time.monotonic() - t0 < 10
    for _ in range(200):
        if hub.subscribers == 1:
            break
        await asyncio.sleep(0.05)
    assert hub.subscribers == 1
    writer.close()


class _StuckWs:
    """A socket double whose send never finishes."""

    def __init__(self) -> None:
        self.closed = False

    async def send_str(self, data: str) -> None:
        await asyncio.Event().wait()

    async def close(self, **kw: Any) -> bool:
        self.closed = True
        return True


async def test_full_queue_drops_subscriber_without_waiting() -> None:
    hub = RelayHub(send_timeout=60, queue_size=2)
    stuck = hub.fanout.join(_StuckWs(), Relay("stuck"))
    assert not inspect.iscoroutinefunction(hub.broadcast)  # it cannot wait on a socket
    for i in range(5):
        hub.broadcast({"type": "announce", "message": str(i)})
    # no await since the join: the drop happened inside broadcast, not in a sender task
    assert hub.subscribers == 0 and stuck.dropped
    await wait_until(lambda: stuck.ws.closed, 5, "the background close")


async def test_shutdown_closes_subscribers_promptly(make_settings: Callable[..., Settings],
                                                    aiohttp_client: Any,
                                                    make_app: MakeApp) -> None:
    app = hub_app(make_app, make_settings, auth_timeout=30)
    client = await aiohttp_client(app)
    subscribed = await subscribe(client)
    await recv_json(subscribed)
    silent = await client.ws_connect("/ws/announce")  # still in its 30 s subscribe window
    await asyncio.sleep(0.05)
    t0 = time.monotonic()
    await client.close()
    assert time.monotonic() - t0 < 10
    assert subscribed.closed or (await subscribed.receive(timeout=2)).type in (
        WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
    assert silent.closed or (await silent.receive(timeout=2)).type in (
        WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)


async def test_heartbeat_drops_silent_client(make_settings: Callable[..., Settings],
                                             aiohttp_client: Any,
                                             make_app: MakeApp) -> None:
    app = hub_app(make_app, make_settings, heartbeat=0.3)
    client = await aiohttp_client(app)
    _, writer = await _raw_subscriber(client.host, client.port)  # never answers pings
    hub: RelayHub = app[keys.HUB]
    for _ in range(100):
        if hub.subscribers == 1:
            break
        await asyncio.sleep(0.02)
    assert hub.subscribers == 1
    for _ in range(200):
        if hub.subscribers == 0:
            break
        await asyncio.sleep(0.02)
    assert hub.subscribers == 0
    writer.close()


async def test_a_burst_of_joins_drops_nobody(make_settings: Callable[..., Settings],
                                             aiohttp_client: Any,
                                             make_app: MakeApp) -> None:
    app = hub_app(make_app, make_settings, queue_size=8)
    client = await aiohttp_client(app)
    hub: RelayHub = app[keys.HUB]
    url = str(client.make_url("/ws/announce"))
    n = 150
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async def join(i: int) -> Any:
            # many bot hosts (ntrbot admits 20 unsubscribed sockets per client address)
            ws = await http.ws_connect(url, headers={"X-Forwarded-For": f"10.0.0.{i + 1}"})
            await ws.send_json(SUBSCRIBE)
            return ws
        sockets = await asyncio.gather(*(join(i) for i in range(n)))
        last: dict[int, int] = {}

        async def drain(i: int, ws: Any) -> None:
            async for msg in ws:
                data = json.loads(msg.data)
                if data["type"] == "status":
                    last[i] = data["subscribers"]
        readers = [asyncio.create_task(drain(i, ws)) for i, ws in enumerate(sockets)]
        for _ in range(200):
            if hub.subscribers == n and all(last.get(i) == n for i in range(n)):
                break
            await asyncio.sleep(0.05)
        assert hub.subscribers == n
        assert sum(ws.closed for ws in sockets) == 0
        assert all(last.get(i) == n for i in range(n))  # everyone ends on the right count
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)


@pytest.mark.parametrize("size", [0, 100, 125, 126, 1000, 65535, 65536, 200_000])
async def test_prebuilt_frames_of_every_length_arrive_intact(app_client: Any, size: int) -> None:
    app, client = app_client
    ws = await client.ws_connect("/ws/announce", max_msg_size=1 << 20)
    await ws.send_json(SUBSCRIBE)
    assert (await recv_json(ws))["type"] == "status"
    message = {"type": "announce", "message": "é" * (size // 2) + "x" * (size % 2)}
    for n in range(3):  # several in a row keep their order
        assert app[keys.HUB].broadcast({**message, "n": n}) == 1
    for n in range(3):
        got = await recv_json(ws)
        assert got == {**message, "n": n}
    await ws.close()


async def test_announce_socket_never_compresses(app_client: Any) -> None:
    _, client = app_client
    ws = await client.ws_connect("/ws/announce", compress=15)
    assert ws.compress == 0  # the server declined permessage-deflate
    await ws.close()
