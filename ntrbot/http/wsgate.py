"""Admission to /ws/announce: token throttle and the per-client cap on sockets not yet
subscribed (counted by `RelayHub`) as a 429, and the subscribe token check."""

from __future__ import annotations

import logging

from aiohttp import web

from ntrbot.announcing.outputs.relay_hub import RelayHub
from ntrbot.http.auth import token_matches
from ntrbot.http.throttle import retry_header, token_throttle
from ntrbot.keys import SETTINGS

log = logging.getLogger(__name__)


def admit(request: web.Request, hub: RelayHub, client: str) -> web.Response | None:
    """None (and the socket counted pending by `hub`) when `client` may open one; else a 429.

    A client throttled for wrong tokens, or with `hub.max_pending` sockets that have not yet
    subscribed, gets a JSON 429 before the WebSocket handshake."""
    wait = token_throttle(request.app).retry_after(client)
    if wait > 0:
        return web.json_response({"error": "too many wrong tokens"}, status=429,
                                 headers=retry_header(wait))
    if not hub.admit(client):
        return web.json_response({"error": "too many sockets waiting to subscribe"},
                                 status=429, headers=retry_header(10))
    return None


def token_ok(request: web.Request, client: str, token: str) -> bool:
    """The admin token or a relay token; a wrong one counts against `client`."""
    settings = request.app[SETTINGS]
    if token_matches(token, (settings.admin_token, *settings.relay_tokens)):
        return True
    token_throttle(request.app).failed(client)
    log.info("wrong subscribe token from %s", client)
    return False
