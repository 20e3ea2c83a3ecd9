"""The /ws/public live feed: public events (announces, retractions, edits) to listeners."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSMsgType, web

from ntrbot import keys
from ntrbot.fanout import close_socket
from ntrbot.http.clientaddr import client_address
from ntrbot.http.helpers import json_error
from ntrbot.http.public import now_playing
from ntrbot.listeners import PublicFeed

log = logging.getLogger(__name__)


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
        aired = [a for a in await db.announcements.for_show(show_id) if a.aired]
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
    feed = app[keys.FEED]
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


async def public_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/public: no auth; pushes announce/retracted/playlist; ignores what clients send."""
    feed = request.app[keys.FEED]
    peer = _peer(request)
    refused = feed.admit(peer)
    if refused is not None:
        return json_error(429, refused)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096, timeout=2.0)
    await ws.prepare(request)
    listener = feed.join(ws, peer)
    try:
        async for msg in ws:  # anything a listener sends is read and dropped
            if msg.type == WSMsgType.ERROR or listener.done:
                break
    finally:
        feed.remove(listener)
        if not ws.closed:
            await close_socket(ws, 1000, b"")
    return ws


async def _feed_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_forward(app), name="public-feed")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    await app[keys.FEED].fanout.close_all(1001, b"server shutdown")


def setup_public_feed(app: web.Application) -> None:
    """Start forwarding public events to /ws/public (`routes.add_routes` mounts the route)."""
    app[keys.FEED] = PublicFeed()
    app.cleanup_ctx.append(_feed_ctx)
    app.on_shutdown.append(_close_sockets)
