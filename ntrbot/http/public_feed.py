"""The /ws/public live feed: public events (announces, retractions, edits) to listeners."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .. import keys
from .clientaddr import client_address
from .helpers import json_error
from .public import now_playing

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Listener:
    """One public socket and its bounded outbox (already-serialized messages)."""

    ws: web.WebSocketResponse
    peer: str
    outbox: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class PublicFeed:
    """The open public sockets, their limits, and fan-out of public events to them."""

    max_total: int = 1000
    max_per_peer: int = 20
    queue_size: int = 64
    ping_seconds: float = 25.0
    listeners: set[Listener] = field(default_factory=set)
    per_peer: Counter[str] = field(default_factory=Counter)
    closing: bool = False

    def admit(self, peer: str) -> str | None:
        """Why a new socket from `peer` is refused, or None when it may open."""
        if self.closing:
            return "shutting down"
        if len(self.listeners) >= self.max_total:
            return "too many listeners"
        if self.per_peer.get(peer, 0) >= self.max_per_peer:
            return "too many sockets from this address"
        return None

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        self.per_peer[listener.peer] += 1

    def remove(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.discard(listener)
            self.per_peer[listener.peer] -= 1
            if self.per_peer[listener.peer] <= 0:
                del self.per_peer[listener.peer]

    def broadcast(self, message: dict[str, Any]) -> None:
        """Queue `message` for every listener; a full outbox becomes one "resync"."""
        text = json.dumps(message)
        for listener in list(self.listeners):
            if len(listener.outbox) >= self.queue_size:
                listener.outbox.clear()
                listener.outbox.append(json.dumps({"type": "resync"}))
            else:
                listener.outbox.append(text)
            listener.wake.set()


FEED: web.AppKey[PublicFeed] = web.AppKey("public_feed", PublicFeed)


def _int(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 2**63 else None


async def public_message(app: web.Application, event: dict[str, Any]) -> dict[str, Any] | None:
    """The public form of a bus event (no message text, who or delivery), or None.

    An announcement is public once it aired (an output confirmed it), never before."""
    kind, db = event.get("type"), app[keys.DB]
    if kind in ("announcement", "delivery") and event.get("aired_now") is True:
        # Only what aired: an announce reaches listeners once an output confirmed it.
        a = event.get("announcement")
        a = a if isinstance(a, dict) else {}
        show_id, position = _int(a.get("show_id")), _int(a.get("position"))
        if show_id is None or position is None:
            return None
        show = await db.show(show_id)
        st = show.track_at(position) if show is not None else None
        return {"type": "announce", "id": _int(a.get("id")), "show_id": show_id,
                "position": position, "track": st.to_json() if st else None,
                "announced_at": str(a.get("announced_at", ""))}
    if kind == "retracted":
        show_id = _int(event.get("show_id"))
        if show_id is None:
            return None
        show = await db.show(show_id)
        aired = [a for a in await db.announcements(show_id) if a.aired]
        playing = now_playing(show, aired) if show else None
        return {"type": "retracted", "id": _int(event.get("id")), "show_id": show_id,
                "position": _int(event.get("position")), "now_playing": playing}
    if kind == "playlist":
        show_id = _int(event.get("show_id"))
        return {"type": "playlist", "show_id": show_id} if show_id is not None else None
    return None


async def _forward(app: web.Application) -> None:
    """Read the event bus (one subscription for all listeners) and fan out public events."""
    queue = app[keys.EVENTS].subscribe()
    feed = app[FEED]
    try:
        while True:
            event = await queue.get()
            if not feed.listeners:
                continue
            try:
                message = await public_message(app, event)
            except Exception:
                log.exception("public feed: could not prepare a %s event", event.get("type"))
                continue
            if message is not None:
                feed.broadcast(message)
    finally:
        app[keys.EVENTS].unsubscribe(queue)


def _peer(request: web.Request) -> str:
    """The client's address (behind trusted proxies, the rightmost untrusted hop)."""
    return client_address(request)


async def _send_loop(feed: PublicFeed, listener: Listener) -> None:
    """Drain the outbox; a ping when idle; a listener too slow to take a send is closed."""
    ws = listener.ws
    try:
        await ws.send_str(json.dumps({"type": "hello"}))
        while not ws.closed:
            listener.wake.clear()
            while listener.outbox:
                await asyncio.wait_for(ws.send_str(listener.outbox.popleft()), 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wake.wait(), feed.ping_seconds)
                continue
            await asyncio.wait_for(ws.send_str('{"type": "ping"}'), 10.0)
    except (TimeoutError, ConnectionError, RuntimeError):
        with contextlib.suppress(Exception):  # wakes the handler's receive loop
            await asyncio.wait_for(ws.close(code=1013, message=b"too slow"), 2.0)


async def public_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/public: no auth; pushes announce/retracted/playlist; ignores what clients send."""
    feed = request.app[FEED]
    peer = _peer(request)
    refused = feed.admit(peer)
    if refused is not None:
        return json_error(429, refused)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096, timeout=2.0)
    await ws.prepare(request)
    listener = Listener(ws, peer)
    feed.add(listener)
    sender = asyncio.create_task(_send_loop(feed, listener))
    try:
        async for msg in ws:  # anything a listener sends is read and dropped
            if msg.type == WSMsgType.ERROR or sender.done():
                break
    finally:
        feed.remove(listener)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        if not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
    return ws


async def _feed_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_forward(app), name="public-feed")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    feed = app[FEED]
    feed.closing = True
    await asyncio.gather(*(asyncio.wait_for(li.ws.close(code=1001, message=b"server shutdown"),
                                            2.0) for li in list(feed.listeners)),
                         return_exceptions=True)


def setup_public_feed(app: web.Application) -> None:
    """Start forwarding public events to /ws/public (`routes.add_routes` mounts the route)."""
    app[FEED] = PublicFeed()
    app.cleanup_ctx.append(_feed_ctx)
    app.on_shutdown.append(_close_sockets)
