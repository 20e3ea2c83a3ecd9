"""The /ws/announce hub: token-subscribed compat plugins get every announce, none waits."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from ..events import EventBus
from ..keys import EVENTS, HUB, SETTINGS
from .clientaddr import client_address
from .wsgate import SubscribeGate

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4001
CLOSE_TOO_SLOW = 4008  # subscriber could not keep up and was dropped
FAST_SEND = 16 * 1024  # bytes still unsent to a subscriber below which a send cannot block


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed WebSocket text frame (RFC 6455): the same bytes for every
    subscriber, so an announce is framed once however many there are."""
    data = text.encode("utf-8")
    n = len(data)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 1 << 16:
        header = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return header + data


_NAME = re.compile(r"[^\w.@#:+-]+")


def _client_message(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def relay_name(value: Any) -> str | None:
    """A relay's name as shown on the dashboard: printable, at most 64 characters."""
    if not isinstance(value, str):
        return None
    name = _NAME.sub("-", value).strip("-")[:64]
    return name or None


class _Subscriber:
    """One socket, its outgoing messages and the task that sends them.

    Announces wait in a bounded FIFO; the subscriber count is one "latest value" slot, so
    a burst of joins and leaves costs each subscriber one message, never a full queue.
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.Request | None,
                 queue_size: int, peer: str) -> None:
        self.ws = ws
        self.request = request
        self.items: deque[str] = deque()
        self.queue_size = queue_size
        self.status: str | None = None
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.peer = peer
        self.dropped = False
        self.busy = False  # the sender task is in the middle of a send
        self.name = ""
        self.acks = False

    def writable_now(self) -> asyncio.Transport | None:
        """The transport, when a frame can be written to it at once and in order: nothing
        queued or being sent, and the socket not backed up."""
        if self.items or self.busy or self.request is None:
            return None
        transport = self.request.transport
        if transport is None or transport.is_closing():
            return None
        if transport.get_write_buffer_size() >= FAST_SEND:
            return None
        return transport

    def put(self, text: str) -> bool:
        """Queue one message; False when the queue is full."""
        if len(self.items) >= self.queue_size:
            return False
        self.items.append(text)
        self.wake.set()
        return True

    def set_status(self, text: str) -> None:
        self.status = text
        self.wake.set()

    def next_message(self) -> str | None:
        if self.status is not None:
            text, self.status = self.status, None
            return text
        return self.items.popleft() if self.items else None


class AnnounceHub:
    """Fan-out to /ws/announce subscribers with a queue and a sender task per subscriber.

    `broadcast` never awaits a socket: it only puts text on each subscriber's bounded
    queue. A subscriber whose queue is full, or whose send takes longer than
    `send_timeout`, is dropped (its connection aborted), so it cannot delay anyone else.
    Status messages (subscriber count) are coalesced per subscriber: the latest wins.
    """

    def __init__(self, token: str, *, events: EventBus | None = None,
                 auth_timeout: float = 10.0, heartbeat: float = 30.0,
                 send_timeout: float = 5.0, queue_size: int = 64) -> None:
        self.gate = SubscribeGate(token)
        self._events = events
        self.auth_timeout = auth_timeout
        self.heartbeat = heartbeat
        self.send_timeout = send_timeout
        self.queue_size = queue_size
        self._subs: set[_Subscriber] = set()
        self._pending: set[web.WebSocketResponse] = set()
        self._closing = False
        self._serial = 0
        #: called as on_ack(relay name, announcement id, ok, detail) for each ack
        self.on_ack: Callable[[str, int, bool, str], None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    # --- sending -------------------------------------------------------------

    def broadcast(self, message: dict[str, Any]) -> int:
        """Queue `message` for every subscriber; returns how many it was queued for."""
        return len(self.relay(message))

    def relay(self, message: dict[str, Any]) -> list[tuple[str, bool]]:
        """Queue `message` for every subscriber; (name, wants acks) of each it reached."""
        text = json.dumps(message, separators=(",", ":"))
        frame = text_frame(text)
        reached: list[tuple[str, bool]] = []
        for sub in list(self._subs):
            transport = sub.writable_now()
            if transport is not None:
                transport.write(frame)  # no task switch, no timer: the common case
                reached.append((sub.name, sub.acks))
            elif sub.put(text):
                reached.append((sub.name, sub.acks))
            else:
                log.warning("announce subscriber %s is not keeping up; dropped", sub.peer)
                self._drop(sub)
        return reached

    def relays(self) -> list[dict[str, Any]]:
        """The subscribed relays, for the dashboard."""
        return sorted(({"name": s.name, "acks": s.acks} for s in self._subs),
                      key=lambda r: r["name"])

    def _unique_name(self, wanted: str | None) -> str:
        taken = {s.name for s in self._subs}
        if wanted is None:
            self._serial += 1
            wanted = f"relay-{self._serial}"
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted}-{n}"
        return name

    def _ack(self, sub: _Subscriber, data: dict[str, Any]) -> None:
        ann_id, ok = data.get("id"), data.get("ok")
        if type(ann_id) is not int or type(ok) is not bool or self.on_ack is None:
            return
        detail = data.get("detail")
        text = " ".join(detail.split())[:200] if isinstance(detail, str) else ""
        try:
            self.on_ack(sub.name, ann_id, ok, text)
        except Exception:
            log.exception("ack handler failed")

    def _status(self) -> None:
        text = json.dumps({"type": "status", "subscribers": self.subscribers},
                          separators=(",", ":"))
        for sub in self._subs:
            sub.set_status(text)
        if self._events is not None:
            self._events.publish("subscribers", {"subscribers": self.subscribers,
                                                 "relays": self.relays()})

    async def _sender(self, sub: _Subscriber) -> None:
        try:
            while True:
                text = sub.next_message()
                if text is None:
                    sub.wake.clear()
                    await sub.wake.wait()
                    continue
                sub.busy = True
                try:
                    await asyncio.wait_for(sub.ws.send_str(text), self.send_timeout)
                except TimeoutError:
                    log.warning("announce subscriber %s stuck for %.0f s; dropped",
                                sub.peer, self.send_timeout)
                    self._drop(sub)
                    return
                except (ConnectionError, RuntimeError) as exc:
                    log.info("announce subscriber %s gone (%s)", sub.peer, type(exc).__name__)
                    self._drop(sub)
                    return
                finally:
                    sub.busy = False
        except asyncio.CancelledError:
            pass

    def _remove(self, sub: _Subscriber) -> bool:
        if sub not in self._subs:
            return False
        self._subs.discard(sub)
        if sub.task is not None and sub.task is not asyncio.current_task():
            sub.task.cancel()
        return True

    def _drop(self, sub: _Subscriber) -> None:
        """Forget a subscriber and abort its connection without waiting for it."""
        sub.dropped = True
        removed = self._remove(sub)
        transport = sub.request.transport if sub.request is not None else None
        if transport is not None:
            transport.abort()
        else:  # e.g. a test double: close in the background, never awaited here
            task = asyncio.ensure_future(self._close_ws(sub.ws, CLOSE_TOO_SLOW, b"too slow"))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        if removed and not self._closing:
            self._status()

    # --- the socket handler ----------------------------------------------------

    async def _authenticate(self, ws: web.WebSocketResponse, request: web.Request,
                            client: str) -> dict[str, Any] | None:
        """The subscribe message when its token is right, else None."""
        try:
            msg = await ws.receive(timeout=self.auth_timeout)
        except TimeoutError:
            return None
        if msg.type != WSMsgType.TEXT:
            return None
        data = _client_message(msg.data)
        if data is None or data.get("type") != "subscribe":
            return None
        token = data.get("token")
        if not isinstance(token, str):
            return None
        return data if self.gate.check(request, client, token) else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /ws/announce."""
        client = client_address(request)
        refused = self.gate.admit(request, client)  # 429: throttled, or too many pending
        if refused is not None:
            return refused
        try:
            # compress=False: broadcast writes the same prebuilt plain frame to every socket.
            ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=64 * 1024,
                                       compress=False,
                                       timeout=2.0)
            await ws.prepare(request)
            if self._closing:
                await self._close_ws(ws, 1001, b"shutting down")
                return ws
            self._pending.add(ws)
            try:
                hello = await self._authenticate(ws, request, client)
            finally:
                self._pending.discard(ws)
        finally:
            self.gate.release(client)
        if hello is None:
            await self._close_ws(ws, CLOSE_UNAUTHORIZED, b"unauthorized")
            return ws
        if self._closing:
            await self._close_ws(ws, 1001, b"shutting down")
            return ws
        sub = _Subscriber(ws, request, self.queue_size, client)
        sub.name = self._unique_name(relay_name(hello.get("name")))
        sub.acks = hello.get("acks") is True
        sub.task = asyncio.create_task(self._sender(sub))
        self._subs.add(sub)
        log.info("announce subscriber %s (%s%s) joined (%d)", sub.name, sub.peer,
                 ", acks" if sub.acks else "", self.subscribers)
        self._status()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = _client_message(msg.data)
                if data is None:
                    continue
                if data.get("type") == "ping":
                    sub.put('{"type":"pong"}')
                elif data.get("type") == "ack":
                    self._ack(sub, data)
        finally:
            if self._remove(sub):
                log.info("announce subscriber %s left (%d)", sub.name, self.subscribers)
                if not self._closing:
                    self._status()
        return ws

    @staticmethod
    async def _close_ws(ws: web.WebSocketResponse, code: int, reason: bytes) -> None:
        try:
            await asyncio.wait_for(ws.close(code=code, message=reason), 2.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            pass

    async def close(self) -> None:
        """Close every socket (on shutdown), so the server does not wait for them."""
        self._closing = True
        subs, self._subs = list(self._subs), set()
        for sub in subs:
            if sub.task is not None:
                sub.task.cancel()
        sockets = [s.ws for s in subs] + list(self._pending)
        await asyncio.gather(*(self._close_ws(ws, 1001, b"server shutdown") for ws in sockets),
                             return_exceptions=True)


def setup_hub(app: web.Application) -> None:
    """Create app[HUB] (needs SETTINGS, EVENTS) and close its sockets on shutdown."""
    app[HUB] = AnnounceHub(app[SETTINGS].admin_token, events=app[EVENTS])

    async def on_shutdown(app: web.Application) -> None:
        await app[HUB].close()

    app.on_shutdown.append(on_shutdown)


async def hub_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/announce: a subscriber (a compat plugin) of the announce stream."""
    return await request.app[HUB].handle(request)
