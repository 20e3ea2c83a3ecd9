"""GET /ws/announce: the subscribe handshake (token gate, 4001) and reading each relay's
frames; the relays themselves are `ntrbot.announcing.outputs.relay_hub.RelayHub`."""

from __future__ import annotations

from typing import Any

from aiohttp import WSMsgType, web

from ntrbot.announcing.outputs.relay_hub import RelayHub
from ntrbot.fanout import close_socket
from ntrbot.http import wsgate
from ntrbot.http.clientaddr import client_address
from ntrbot.http.helpers import ws_object
from ntrbot.keys import EVENTS, HUB, RELAYS

CLOSE_UNAUTHORIZED = 4001


async def _authenticate(ws: web.WebSocketResponse, request: web.Request, client: str,
                        seconds: float) -> dict[str, Any] | None:
    """The subscribe message (within `seconds`) when its token is right, else None."""
    try:
        msg = await ws.receive(timeout=seconds)
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
    return data if wsgate.token_ok(request, client, token) else None


async def hub_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/announce: a subscriber (a compat plugin) of the announce stream."""
    hub = request.app[HUB]
    client = client_address(request)
    refused = wsgate.admit(request, hub, client)  # 429: throttled, or too many pending
    if refused is not None:
        return refused
    try:
        # compress=False: broadcast writes the same prebuilt plain frame to every socket.
        ws = web.WebSocketResponse(heartbeat=hub.heartbeat, max_msg_size=64 * 1024,
                                   compress=False, timeout=2.0)
        await ws.prepare(request)
        if hub.closing:
            await close_socket(ws, 1001, b"shutting down")
            return ws
        with hub.subscribing(ws):
            hello = await _authenticate(ws, request, client, hub.auth_timeout)
    finally:
        hub.release(client)
    if hello is None:
        await close_socket(ws, CLOSE_UNAUTHORIZED, b"unauthorized")
        return ws
    if hub.closing:
        await close_socket(ws, 1001, b"shutting down")
        return ws
    link = hub.join(ws, request, client, hello)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = ws_object(msg.data)
            if data is not None:
                hub.received(link, data)
    finally:
        hub.leave(link)
    return ws


def setup_hub(app: web.Application) -> None:
    """Create app[HUB] and its announce output app[RELAYS] (needs EVENTS), and close its
    sockets on shutdown."""
    hub = app[HUB] = RelayHub(events=app[EVENTS])
    app[RELAYS] = hub.outputs

    async def on_shutdown(app: web.Application) -> None:
        await app[HUB].close()

    app.on_shutdown.append(on_shutdown)
