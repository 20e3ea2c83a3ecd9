"""Admission to /ws/announce: token throttle, per-client cap on sockets not yet subscribed."""

from __future__ import annotations

import logging
from collections import Counter

from aiohttp import web

from ntrbot.http.auth import token_matches
from ntrbot.http.throttle import retry_header, token_throttle
from ntrbot.keys import SETTINGS

log = logging.getLogger(__name__)
MAX_PENDING_PER_CLIENT = 20


class SubscribeGate:
    """Who may open a /ws/announce socket, and whether its subscribe token is right.

    A client throttled for wrong tokens, or with `max_pending` sockets that have not yet
    subscribed, gets a JSON 429 before the WebSocket handshake.
    """

    def __init__(self, admin_token: str, max_pending: int = MAX_PENDING_PER_CLIENT) -> None:
        self._admin_token = admin_token
        self.max_pending = max_pending
        self.pending: Counter[str] = Counter()

    def admit(self, request: web.Request, client: str) -> web.Response | None:
        """None (and the socket counted as pending) when `client` may open one; else a 429."""
        wait = token_throttle(request.app).retry_after(client)
        if wait > 0:
            return web.json_response({"error": "too many wrong tokens"}, status=429,
                                     headers=retry_header(wait))
        if self.pending[client] >= self.max_pending:
            log.info("too many unsubscribed announce sockets from %s", client)
            return web.json_response({"error": "too many sockets waiting to subscribe"},
                                     status=429, headers=retry_header(10))
        self.pending[client] += 1
        return None

    def release(self, client: str) -> None:
        """The socket is subscribed or gone: no longer pending."""
        self.pending[client] -= 1
        if self.pending[client] <= 0:
            del self.pending[client]

    def check(self, request: web.Request, client: str, token: str) -> bool:
        """The admin token or a relay token; a wrong one counts against `client`."""
        relay = request.app[SETTINGS].relay_tokens
        if token_matches(token, (self._admin_token, *relay)):
            return True
        token_throttle(request.app).failed(client)
        log.info("wrong subscribe token from %s", client)
        return False
