"""The /ws/announce relays: who is subscribed (name, acks), fan-out of announces and status to
them, their pings and acks, admission of sockets not yet subscribed — pure bookkeeping over
one `fanout.Fanout` (the route is ntrbot/http/hub.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ntrbot.announcing.outputs.relay import RelayOutputs
from ntrbot.events import EventBus
from ntrbot.fanout import Fanout, Overflow, Policy, Socket, Subscriber, Upgrade, close_socket
from ntrbot.text import clean

log = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 4008  # subscriber could not keep up and was dropped
MAX_PENDING_PER_CLIENT = 20  # sockets one client may hold open before they subscribe
PONG = '{"type":"pong"}'

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


Link = Subscriber[Relay]  # one subscribed relay's socket


class RelayHub:
    """The subscribed relays and fan-out (`fanout.Fanout`) to them.

    `broadcast` never awaits a socket: it writes one prebuilt frame to each idle subscriber
    or puts the text on its bounded queue. A subscriber whose queue is full, or whose send
    takes longer than `send_timeout`, is dropped (its connection aborted), so it cannot
    delay anyone else. Status messages (subscriber count) are coalesced per subscriber:
    the latest wins. `outputs` is the relays as an announce output, built over the hub:
    it sends announces through `relay` and is handed every ack. A socket has
    `auth_timeout` seconds to subscribe (at most `max_pending` per client at a time) and
    is pinged every `heartbeat` seconds.
    """

    def __init__(self, *, events: EventBus | None = None, auth_timeout: float = 10.0,
                 heartbeat: float = 30.0, send_timeout: float = 5.0, queue_size: int = 64,
                 max_pending: int = MAX_PENDING_PER_CLIENT) -> None:
        self._events = events
        self.auth_timeout = auth_timeout
        self.heartbeat = heartbeat
        self.send_timeout = send_timeout
        self.queue_size = queue_size
        self.max_pending = max_pending
        self.fanout: Fanout[Relay] = Fanout(hub_policy(queue_size, send_timeout),
                                            "announce", on_leave=self._left)
        self.pending: Counter[str] = Counter()  # client -> its sockets not yet subscribed
        self._unsubscribed: set[Socket] = set()
        self._serial = 0
        self.outputs = RelayOutputs(self)

    @property
    def subscribers(self) -> int:
        return len(self.fanout)

    @property
    def closing(self) -> bool:
        return self.fanout.closing

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

    def _status(self) -> None:
        self.fanout.set_latest(json.dumps({"type": "status", "subscribers": self.subscribers},
                                          separators=(",", ":")))
        if self._events is not None:
            self._events.publish("subscribers", {"subscribers": self.subscribers,
                                                 "relays": self.relays()})

    # --- before the subscribe ------------------------------------------------

    def admit(self, client: str) -> bool:
        """True (and one more socket of `client` counted pending) when it may open one."""
        if self.pending[client] >= self.max_pending:
            log.info("too many unsubscribed announce sockets from %s", client)
            return False
        self.pending[client] += 1
        return True

    def release(self, client: str) -> None:
        """A socket `admit`ted is subscribed or gone: no longer pending."""
        self.pending[client] -= 1
        if self.pending[client] <= 0:
            del self.pending[client]

    @contextmanager
    def subscribing(self, ws: Socket) -> Iterator[None]:
        """While `ws` waits for its subscribe message (closed by `close` on shutdown)."""
        self._unsubscribed.add(ws)
        try:
            yield
        finally:
            self._unsubscribed.discard(ws)

    # --- a subscribed relay ----------------------------------------------------

    def join(self, ws: Socket, request: Upgrade | None, peer: str,
             hello: dict[str, Any]) -> Link:
        """Add the relay that sent `hello` (its subscribe); everyone gets the new count."""
        relay = Relay(peer, self._unique_name(relay_name(hello.get("name"))),
                      hello.get("acks") is True)
        link = self.fanout.join(ws, relay, request)
        log.info("announce subscriber %s (%s%s) joined (%d)", relay.name, relay.peer,
                 ", acks" if relay.acks else "", self.subscribers)
        self._status()
        return link

    def received(self, link: Link, data: dict[str, Any]) -> None:
        """A message from a subscribed relay: a ping (answered) or an ack; others ignored."""
        if data.get("type") == "ping":
            link.offer(PONG)
        elif data.get("type") == "ack":
            self._ack(link, data)

    def leave(self, link: Link) -> None:
        """The relay's socket ended (its status update is `_left`)."""
        if self.fanout.leave(link):
            log.info("announce subscriber %s left (%d)", link.meta.name, self.subscribers)

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

    def _ack(self, link: Link, data: dict[str, Any]) -> None:
        ann_id, ok = data.get("id"), data.get("ok")
        if type(ann_id) is not int or type(ok) is not bool:
            return
        detail = data.get("detail")
        text = clean(detail)[:200] if isinstance(detail, str) else ""
        try:
            self.outputs.ack(link.meta.name, ann_id, ok, text)
        except Exception:
            log.exception("ack handler failed")

    def _left(self, link: Link) -> None:
        if not self.fanout.closing:
            self._status()

    async def close(self) -> None:
        """Close every socket (on shutdown), so the server does not wait for them."""
        self.fanout.closing = True
        self.outputs.close()
        await asyncio.gather(self.fanout.close_all(1001, b"server shutdown"),
                             *(close_socket(ws, 1001, b"server shutdown")
                               for ws in list(self._unsubscribed)),
                             return_exceptions=True)
