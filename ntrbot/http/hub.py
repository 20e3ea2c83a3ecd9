"""The /ws/announce hub: token-subscribed compat plugins get every announce, none waits."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from ntrbot.announcing.outputs.relay import RelayOutputs
from ntrbot.events import EventBus
from ntrbot.fanout import Fanout, Overflow, Policy, Subscriber, close_socket
from ntrbot.http.clientaddr import client_address
from ntrbot.http.helpers import ws_object
from ntrbot.http.wsgate import SubscribeGate
from ntrbot.keys import EVENTS, HUB, RELAYS, SETTINGS

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4001
CLOSE_TOO_SLOW = 4008  # subscriber could not keep up and was dropped


_NAME = re.compile(r"[^\w.@#:+-]+")


def relay_name(value: Any) -> str | None:
    """A relay's name as shown on the dashboard: printable, at most 64 characters."""
    if not isinstance(value, str):
        return None
    name = _NAME.sub("-", value).strip("-")[:64]
    return name or None


@dataclass(eq=False)
class Relay:
    """What the hub knows about one subscriber: its address, name and whether it acks."""

    peer: str
    name: str = ""
    acks: bool = False

    def __str__(self) -> str:
        return self.peer


def hub_policy(queue_size: int = 64, send_timeout: float = 5.0) -> Policy:
    """/ws/announce: prebuilt frames; a subscriber that falls behind is dropped (aborted)."""
    return Policy(Overflow.DROP_SUBSCRIBER, queue_size=queue_size, send_timeout=send_timeout,
                  slow_close=(CLOSE_TOO_SLOW, b"too slow"), abort=True, compact=True,
                  preframed=True)


class AnnounceHub:
    """Fan-out (`fanout.Fanout`) to /ws/announce subscribers.

    `broadcast` never awaits a socket: it writes one prebuilt frame to each idle subscriber
    or puts the text on its bounded queue. A subscriber whose queue is full, or whose send
    takes longer than `send_timeout`, is dropped (its connection aborted), so it cannot
    delay anyone else. Status messages (subscriber count) are coalesced per subscriber:
    the latest wins. `outputs` is the relays as an announce output, built over the hub:
    it sends announces through `relay` and is handed every ack.
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
        self.fanout: Fanout[Relay] = Fanout(hub_policy(queue_size, send_timeout),
                                            "announce", on_leave=self._left)
        self._pending: set[web.WebSocketResponse] = set()
        self._serial = 0
        self.outputs = RelayOutputs(self)

    @property
    def subscribers(self) -> int:
        return len(self.fanout)

    # --- sending -------------------------------------------------------------

    def broadcast(self, message: dict[str, Any]) -> int:
        """Queue `message` for every subscriber; returns how many it was queued for."""
        return len(self.fanout.publish(message))

    def relay(self, message: dict[str, Any]) -> list[tuple[str, bool]]:
        """Queue `message` for every subscriber; (name, wants acks) of each it reached."""
        return [(s.meta.name, s.meta.acks) for s in self.fanout.publish(message)]

    def relays(self) -> list[dict[str, Any]]:
        """The subscribed relays, for the dashboard."""
        return sorted(({"name": s.meta.name, "acks": s.meta.acks}
                       for s in self.fanout.subscribers), key=lambda r: r["name"])

    def _unique_name(self, wanted: str | None) -> str:
        taken = {s.meta.name for s in self.fanout.subscribers}
        if wanted is None:
            self._serial += 1
            wanted = f"relay-{self._serial}"
        name, n = wanted, 1
        while name in taken:
            n += 1
            name = f"{wanted}-{n}"
        return name

    def _ack(self, sub: Subscriber[Relay], data: dict[str, Any]) -> None:
        ann_id, ok = data.get("id"), data.get("ok")
        if type(ann_id) is not int or type(ok) is not bool:
            return
        detail = data.get("detail")
        text = " ".join(detail.split())[:200] if isinstance(detail, str) else ""
        try:
            self.outputs.ack(sub.meta.name, ann_id, ok, text)
        except Exception:
            log.exception("ack handler failed")

    def _status(self) -> None:
        self.fanout.set_latest(json.dumps({"type": "status", "subscribers": self.subscribers},
                                          separators=(",", ":")))
        if self._events is not None:
            self._events.publish("subscribers", {"subscribers": self.subscribers,
                                                 "relays": self.relays()})

    def _left(self, sub: Subscriber[Relay]) -> None:
        if not self.fanout.closing:
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
        data = ws_object(msg.data)
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
            if self.fanout.closing:
                await close_socket(ws, 1001, b"shutting down")
                return ws
            self._pending.add(ws)
            try:
                hello = await self._authenticate(ws, request, client)
            finally:
                self._pending.discard(ws)
        finally:
            self.gate.release(client)
        if hello is None:
            await close_socket(ws, CLOSE_UNAUTHORIZED, b"unauthorized")
            return ws
        if self.fanout.closing:
            await close_socket(ws, 1001, b"shutting down")
            return ws
        relay = Relay(client, self._unique_name(relay_name(hello.get("name"))),
                      hello.get("acks") is True)
        sub = self.fanout.join(ws, relay, request)
        log.info("announce subscriber %s (%s%s) joined (%d)", relay.name, relay.peer,
                 ", acks" if relay.acks else "", self.subscribers)
        self._status()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data = ws_object(msg.data)
                if data is None:
                    continue
                if data.get("type") == "ping":
                    sub.offer('{"type":"pong"}')
                elif data.get("type") == "ack":
                    self._ack(sub, data)
        finally:
            if self.fanout.leave(sub):  # (its status update is `_left`)
                log.info("announce subscriber %s left (%d)", relay.name, self.subscribers)
        return ws

    async def close(self) -> None:
        """Close every socket (on shutdown), so the server does not wait for them."""
        self.fanout.closing = True
        self.outputs.close()
        await asyncio.gather(self.fanout.close_all(1001, b"server shutdown"),
                             *(close_socket(ws, 1001, b"server shutdown")
                               for ws in list(self._pending)),
                             return_exceptions=True)


def setup_hub(app: web.Application) -> None:
    """Create app[HUB] and its announce output app[RELAYS] (needs SETTINGS, EVENTS), and
    close its sockets on shutdown."""
    hub = app[HUB] = AnnounceHub(app[SETTINGS].admin_token, events=app[EVENTS])
    app[RELAYS] = hub.outputs

    async def on_shutdown(app: web.Application) -> None:
        await app[HUB].close()

    app.on_shutdown.append(on_shutdown)


async def hub_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/announce: a subscriber (a compat plugin) of the announce stream."""
    return await request.app[HUB].handle(request)
