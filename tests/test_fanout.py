"""ntrbot/fanout.py: bounded outboxes, one sender per subscriber, overflow policies, timed close."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import os
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from ntrbot import fanout as fanout_mod
from ntrbot.fanout import (
    FAST_SEND,
    Fanout,
    Overflow,
    Policy,
    Subscriber,
    close_socket,
    text_frame,
)
from tests.support.net import wait_until

POLICIES = [Overflow.DROP_SUBSCRIBER, Overflow.RESYNC, Overflow.DROP_OLDEST]
RESYNC = '{"type":"resync"}'


class StuckWs:
    """A socket double whose every send waits forever (or raises `error`)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.closed = False
        self.error = error
        self.sends = 0
        self.close_args: tuple[int, bytes] | None = None

    async def send_str(self, data: str) -> None:
        self.sends += 1
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        self.close_args = (code, message)
        return True


def stuck_fanout(overflow: Overflow, size: int = 3, **kw: Any) -> tuple[Fanout[str], list[str]]:
    left: list[str] = []
    fan: Fanout[str] = Fanout(Policy(overflow, queue_size=size, resync=RESYNC, **kw), "test",
                              on_leave=lambda s: left.append(s.meta))
    return fan, left


async def started(fan: Fanout[str], meta: str = "stuck",
                  ws: StuckWs | None = None) -> Subscriber[str]:
    """A subscriber whose sender is stuck in its first send (nothing more leaves the outbox)."""
    ws = ws or StuckWs()
    sub = fan.join(ws, meta, first="in flight")
    for _ in range(20):
        await asyncio.sleep(0)
        if ws.sends:
            break
    assert ws.sends == 1 and sub.busy and not sub.outbox
    return sub


# --- the class itself, with socket doubles ---------------------------------------------

def test_publish_is_not_a_coroutine() -> None:
    assert not inspect.iscoroutinefunction(Fanout.publish)
    assert not inspect.iscoroutinefunction(Fanout.publish_text)
    assert not inspect.iscoroutinefunction(Fanout.set_latest)


@pytest.mark.parametrize("size", [1, 2, 5])
@pytest.mark.parametrize("overflow", POLICIES)
async def test_outbox_never_grows_past_its_bound(overflow: Overflow, size: int) -> None:
    fan, _ = stuck_fanout(overflow, size)
    sub = await started(fan)
    for i in range(100):
        fan.publish({"n": i})
        assert len(sub.outbox) <= size
    fan.leave(sub)


@pytest.mark.parametrize("size", [1, 3, 8])
async def test_drop_subscriber_forgets_it_and_closes_it(size: int) -> None:
    fan, left = stuck_fanout(Overflow.DROP_SUBSCRIBER, size, slow_close=(4008, b"too slow"))
    ws = StuckWs()
    sub = await started(fan, ws=ws)
    for i in range(size):
        assert fan.publish({"n": i}) == [sub]
    assert fan.publish({"n": "over"}) == []
    assert sub.dropped and not fan.subscribers and left == ["stuck"]
    for _ in range(20):
        await asyncio.sleep(0)
    assert ws.close_args == (4008, b"too slow")
    assert sub.task is not None and sub.task.done()


@pytest.mark.parametrize("size", [1, 3, 8])
async def test_resync_replaces_the_outbox_by_one_resync(size: int) -> None:
    fan, left = stuck_fanout(Overflow.RESYNC, size)
    sub = await started(fan)
    for i in range(size + 2):
        fan.publish_text(f"m{i}")
    assert sub.outbox[0] == RESYNC and len(sub.outbox) <= size
    assert fan.subscribers == {sub} and not left and not sub.dropped
    fan.leave(sub)


@pytest.mark.parametrize("size", [1, 3, 8])
async def test_drop_oldest_keeps_the_newest(size: int) -> None:
    fan, left = stuck_fanout(Overflow.DROP_OLDEST, size)
    sub = await started(fan)
    for i in range(size * 3):
        fan.publish_text(f"m{i}")
    assert list(sub.outbox) == [f"m{i}" for i in range(size * 2, size * 3)]
    assert fan.subscribers == {sub} and not left
    fan.leave(sub)


@pytest.mark.parametrize("overflow", POLICIES)
async def test_offer_never_applies_the_policy(overflow: Overflow) -> None:
    fan, left = stuck_fanout(overflow, 2)
    sub = await started(fan)
    assert sub.offer("one") is True and sub.offer("two") is True
    assert sub.offer("three") is False
    assert list(sub.outbox) == ["one", "two"] and fan.subscribers == {sub} and not left
    fan.leave(sub)


async def test_latest_value_slot_is_coalesced_and_goes_first() -> None:
    fan, _ = stuck_fanout(Overflow.DROP_OLDEST, 8)
    sub = await started(fan)
    fan.publish_text("queued")
    for n in range(5):
        fan.set_latest(f"status {n}")
    assert sub.next_message() == "status 4"
    assert sub.next_message() == "queued"
    assert sub.next_message() is None
    fan.leave(sub)


@pytest.mark.parametrize("n", [1, 10, 100])
async def test_one_sender_task_per_subscriber_whatever_is_published(n: int) -> None:
    fan, _ = stuck_fanout(Overflow.DROP_OLDEST, 4)
    subs = [fan.join(StuckWs(), str(i)) for i in range(n)]
    await asyncio.sleep(0)
    tasks = {s.task for s in subs}

    def senders() -> set[asyncio.Task[Any]]:
        return {t for t in asyncio.all_tasks()
                if getattr(t.get_coro(), "__qualname__", None) == "Fanout._sender"}
    assert senders() == tasks and len(tasks) == n
    for i in range(50):
        fan.publish({"n": i})
    await asyncio.sleep(0)
    assert {s.task for s in subs} == tasks and senders() == tasks
    for s in subs:
        fan.leave(s)


@pytest.mark.parametrize("error", [ConnectionResetError("gone"), RuntimeError("closing"),
                                   TimeoutError()])
@pytest.mark.parametrize("overflow", POLICIES)
async def test_a_failed_send_drops_the_subscriber_once(overflow: Overflow,
                                                      error: Exception) -> None:
    fan, left = stuck_fanout(overflow, 4, slow_close=(1013, b"too slow"))
    ws = StuckWs(error)
    sub = fan.join(ws, "bad", first="hello")
    for _ in range(20):
        await asyncio.sleep(0)
    assert sub.dropped and sub.done and left == ["bad"] and not fan.subscribers
    assert ws.close_args == (1013, b"too slow")
    assert fan.leave(sub) is False and left == ["bad"]


async def test_a_send_slower_than_the_timeout_drops_the_subscriber() -> None:
    fan, left = stuck_fanout(Overflow.RESYNC, 4, send_timeout=0.05)
    sub = fan.join(StuckWs(), "slow")
    sub.offer("x")
    assert sub.task is not None
    await asyncio.wait_for(sub.task, 5)
    assert sub.dropped and left == ["slow"]


async def test_leave_is_idempotent_and_stops_the_sender() -> None:
    fan, left = stuck_fanout(Overflow.DROP_OLDEST)
    sub = await started(fan)
    assert fan.leave(sub) is True
    assert fan.leave(sub) is False
    assert sub.task is not None
    await asyncio.wait([sub.task], timeout=5)
    assert left == ["stuck"] and sub.task.done()


async def test_publish_to_nobody() -> None:
    fan, _ = stuck_fanout(Overflow.DROP_SUBSCRIBER)
    assert fan.publish({"type": "x"}) == [] and len(fan) == 0


@pytest.mark.parametrize(("compact", "text"), [(True, '{"a":1,"b":[1,2]}'),
                                               (False, '{"a": 1, "b": [1, 2]}')])
def test_encode_follows_the_policy(compact: bool, text: str) -> None:
    fan: Fanout[str] = Fanout(Policy(Overflow.DROP_OLDEST, compact=compact))
    assert fan.encode({"a": 1, "b": [1, 2]}) == text


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000])
def test_text_frame_header(size: int) -> None:
    frame = text_frame("x" * size)
    assert frame[0] == 0x81 and frame.endswith(b"x" * size)
    if size < 126:
        assert frame[1] == size and len(frame) == size + 2
    elif size < 1 << 16:
        assert frame[1] == 126 and int.from_bytes(frame[2:4], "big") == size
    else:
        assert frame[1] == 127 and int.from_bytes(frame[2:10], "big") == size


# --- real sockets on a loopback test server ----------------------------------------------

Serve = Callable[..., Any]


@pytest.fixture
async def serve(aiohttp_client: Any) -> Serve:
    async def make(policy: Policy, first: str | None = None,
                   ws_timeout: float = 2.0) -> tuple[Fanout[str], TestClient[Any, Any]]:
        left: list[str] = []
        fan: Fanout[str] = Fanout(policy, "test", on_leave=lambda s: left.append(s.meta))

        async def handler(request: web.Request) -> web.StreamResponse:
            ws = web.WebSocketResponse(compress=False, timeout=ws_timeout)
            await ws.prepare(request)
            sub = fan.join(ws, request.query.get("name", ""), request, first=first)
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        sub.offer("echo " + msg.data)
                    if sub.done:
                        break
            finally:
                fan.leave(sub)
            return ws

        async def shutdown(_: web.Application) -> None:
            await fan.close_all()

        app = web.Application()
        app.router.add_get("/ws", handler)
        app.on_shutdown.append(shutdown)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return fan, client

    return make


async def until(check: Callable[[], bool], what: str) -> None:
    await wait_until(check, 5.0, what, interval=0.01)


async def connect(client: TestClient[Any, Any], fan: Fanout[str], n: int,
                  **kw: Any) -> list[aiohttp.ClientWebSocketResponse]:
    sockets = [await client.ws_connect(f"/ws?name=s{i}", **kw) for i in range(n)]
    await until(lambda: len(fan) == n, "everyone to join")
    return sockets


async def raw_stalled(host: str, port: int) -> socket.socket:
    """A client that upgrades, then never reads again (small receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(sock, (
        f"GET /ws?name=stalled HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


@pytest.mark.parametrize("preframed", [True, False])
@pytest.mark.parametrize("n", [1, 7])
async def test_every_subscriber_gets_every_message_in_order(serve: Serve, preframed: bool,
                                                            n: int) -> None:
    fan, client = await serve(Policy(Overflow.DROP_SUBSCRIBER, preframed=preframed))
    sockets = await connect(client, fan, n)
    for i in range(20):
        assert len(fan.publish({"n": i})) == n
    for ws in sockets:
        assert [(await ws.receive_json(timeout=5))["n"] for _ in range(20)] == list(range(20))


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
async def test_prebuilt_frames_arrive_intact(serve: Serve, size: int) -> None:
    fan, client = await serve(Policy(Overflow.DROP_SUBSCRIBER, preframed=True))
    (ws,) = await connect(client, fan, 1, max_msg_size=1 << 20)
    text = "é" * (size // 2) + "x" * (size % 2)
    for n in range(3):
        fan.publish({"n": n, "text": text})
    for n in range(3):
        assert await ws.receive_json(timeout=5) == {"n": n, "text": text}


@pytest.mark.parametrize("preframed", [True, False])
async def test_the_first_message_comes_first(serve: Serve, preframed: bool) -> None:
    fan, client = await serve(Policy(Overflow.RESYNC, preframed=preframed), first="hello")
    (ws,) = await connect(client, fan, 1)
    fan.publish_text("after")
    assert await ws.receive_str(timeout=5) == "hello"
    assert await ws.receive_str(timeout=5) == "after"


async def test_offered_replies_share_the_order(serve: Serve) -> None:
    fan, client = await serve(Policy(Overflow.DROP_OLDEST))
    (ws,) = await connect(client, fan, 1)
    await ws.send_str("ping")
    assert await ws.receive_str(timeout=5) == "echo ping"


async def test_an_idle_socket_is_pinged(serve: Serve) -> None:
    fan, client = await serve(Policy(Overflow.RESYNC, ping=(0.05, '{"type": "ping"}')))
    (ws,) = await connect(client, fan, 1)
    assert await ws.receive_json(timeout=5) == {"type": "ping"}


@pytest.mark.parametrize(("abort", "code"), [(True, None), (False, 4008), (False, 1013)])
async def test_overflow_drop_aborts_or_closes_with_the_policy_code(
        serve: Serve, abort: bool, code: int | None) -> None:
    fan, client = await serve(Policy(Overflow.DROP_SUBSCRIBER, queue_size=1, abort=abort,
                                     slow_close=(code or 4008, b"too slow")))
    (ws,) = await connect(client, fan, 1)
    fan.publish_text("one")  # queued; the sender has not run yet
    assert fan.publish_text("two") == []  # full: dropped
    msg = await ws.receive(timeout=5)
    while msg.type == WSMsgType.TEXT:
        msg = await ws.receive(timeout=5)
    if abort:
        assert msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR, WSMsgType.CLOSE)
        assert ws.close_code in (None, 1006)
    else:
        assert msg.type == WSMsgType.CLOSE and msg.data == code and msg.extra == "too slow"
    assert len(fan) == 0


@pytest.mark.parametrize("overflow", POLICIES)
@pytest.mark.parametrize("preframed", [True, False])
async def test_stalled_sockets_delay_nobody(serve: Serve, overflow: Overflow,
                                            preframed: bool) -> None:
    fan, client = await serve(Policy(overflow, queue_size=4, send_timeout=0.3, abort=True,
                                     preframed=preframed, resync=RESYNC))
    healthy = await connect(client, fan, 3, max_msg_size=1 << 20)
    stalled = [await raw_stalled(client.host, client.port) for _ in range(2)]
    await until(lambda: len(fan) == 5, "the stalled ones to join")
    big = "x" * (16 * FAST_SEND)  # 256 KiB: 40 of them fill any loopback socket buffer
    count = 40
    got: list[list[int]] = [[] for _ in healthy]

    async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
        while len(got[i]) < count:
            got[i].append((await ws.receive_json(timeout=10))["n"])
    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(healthy)]
    for n in range(count):
        fan.publish({"n": n, "pad": big})
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*readers), 20)
    assert got == [list(range(count))] * len(healthy)  # all of it, in order, nobody dropped
    await until(lambda: len(fan) == 3, "the stalled ones to be dropped")
    assert {s.meta for s in fan.subscribers} == {"s0", "s1", "s2"}
    for sock in stalled:
        sock.close()


@pytest.mark.parametrize(("code", "reason"), [(1001, b"server shutdown"), (4401, b"bye")])
async def test_close_all_closes_everyone_with_the_code(serve: Serve, code: int,
                                                       reason: bytes) -> None:
    fan, client = await serve(Policy(Overflow.DROP_OLDEST))
    sockets = await connect(client, fan, 4)
    subs = list(fan.subscribers)
    await asyncio.wait_for(fan.close_all(code, reason), 10)
    assert fan.closing and len(fan) == 0
    for ws in sockets:
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.CLOSE and msg.data == code
        assert msg.extra == reason.decode()
    await asyncio.sleep(0)
    assert all(s.task is not None and s.task.done() for s in subs)


async def test_close_one_subscriber(serve: Serve) -> None:
    fan, client = await serve(Policy(Overflow.DROP_OLDEST))
    a, b = await connect(client, fan, 2)
    (sub,) = [s for s in fan.subscribers if s.meta == "s0"]
    await fan.close(sub, 4401, b"logged out")
    msg = await a.receive(timeout=5)
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401 and msg.extra == "logged out"
    await until(lambda: len(fan) == 1, "the closed one to leave")
    fan.publish_text("still here")
    assert await b.receive_str(timeout=5) == "still here"


async def test_timed_close_of_a_socket_that_never_reads(serve: Serve,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The server socket would wait 60 s for the peer's close frame; the close gives up first.
    monkeypatch.setattr(fanout_mod, "CLOSE_TIMEOUT", 0.2)
    fan, client = await serve(Policy(Overflow.DROP_SUBSCRIBER), ws_timeout=60.0)
    sock = await raw_stalled(client.host, client.port)
    await until(lambda: len(fan) == 1, "the silent one to join")
    (sub,) = fan.subscribers
    await asyncio.wait_for(close_socket(sub.ws, 1001, b"server shutdown"), 10)
    await asyncio.wait_for(fan.close_all(), 10)
    assert len(fan) == 0
    sock.close()


async def test_close_socket_never_raises() -> None:
    class Broken:
        async def close(self, **kw: Any) -> bool:
            raise ConnectionResetError("gone")

    await close_socket(Broken(), 1001, b"x")  # type: ignore[arg-type]  # no send_str: it breaks first


# --- the three uses ----------------------------------------------------------------------

async def test_the_three_sockets_share_the_class_with_their_policy(
        make_settings: Callable[..., Any], make_app: Any) -> None:
    from ntrbot import keys
    from ntrbot.announcing.outputs.relay_hub import CLOSE_TOO_SLOW
    from ntrbot.http.dashboard import CLOSE_LOGGED_OUT
    from ntrbot.keys import FEED, SOCKETS
    from tests.support.dashboard import dashboard_settings
    from tests.support.fakes import FakeIrc

    app = make_app(dashboard_settings(make_settings), FakeIrc())
    hub, public, dash = app[keys.HUB].fanout, app[FEED].fanout, app[SOCKETS]
    assert all(isinstance(f, Fanout) for f in (hub, public, dash))
    assert hub.policy.overflow is Overflow.DROP_SUBSCRIBER and hub.policy.preframed
    assert hub.policy.compact and hub.policy.abort
    assert hub.policy.slow_close == (CLOSE_TOO_SLOW, b"too slow") and hub.policy.queue_size == 64
    assert public.policy.overflow is Overflow.RESYNC and not public.policy.preframed
    assert json.loads(public.policy.resync) == {"type": "resync"}
    assert public.policy.slow_close == (1013, b"too slow") and public.policy.ping is not None
    assert dash.policy.overflow is Overflow.DROP_OLDEST and dash.policy.queue_size == 256
    assert dash.policy.abort and CLOSE_LOGGED_OUT == 4401
