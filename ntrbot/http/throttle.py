"""Per-client attempt limits: logins reserved on arrival, wrong tokens counted (429)."""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from weakref import WeakKeyDictionary

from aiohttp import web

log = logging.getLogger(__name__)
PER_CLIENT = 5
WINDOW = 60.0
MAX_CLIENTS = 10_000


class Throttle:
    """Attempts allowed per client (and optionally overall) within a sliding window.

    `reserve` counts an attempt the moment it arrives, before anything is awaited, so
    concurrent or slow requests cannot all pass the check before any is counted.
    """

    def __init__(self, per_client: int = PER_CLIENT, overall: int | None = None,
                 window: float = WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self._clock = clock
        self._clients: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _prune(self, q: deque[float], now: float) -> None:
        while q and q[0] <= now - self.window:
            q.popleft()

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may try now."""
        now = self._clock()
        self._prune(self._all, now)
        waits = []
        q = self._clients.get(client)
        if q is not None:
            self._prune(q, now)
            if not q:
                del self._clients[client]
            elif len(q) >= self.per_client:
                waits.append(q[0] + self.window - now)
        if self.overall is not None and len(self._all) >= self.overall:
            waits.append(self._all[0] + self.window - now)
        return max(waits, default=0.0)

    def reserve(self, client: str) -> float:
        """Count an attempt now: 0 when it is allowed, else the seconds to wait (not counted)."""
        wait = self.retry_after(client)
        if wait <= 0:
            self.failed(client)
        return wait

    def failed(self, client: str) -> None:
        """Count a failed (or reserved) attempt of `client`."""
        now = self._clock()
        self._clients.setdefault(client, deque()).append(now)
        self._all.append(now)
        if len(self._clients) > MAX_CLIENTS:  # bound memory under a spray of addresses
            for key in [k for k, q in self._clients.items()
                        if not q or q[-1] <= now - self.window]:
                del self._clients[key]

    def succeeded(self, client: str) -> None:
        """Forget `client`'s attempts (a right password)."""
        self._clients.pop(client, None)


def retry_header(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def too_many(wait: float, message: str = "too many failed attempts") -> web.HTTPException:
    """The JSON 429 with Retry-After, to raise."""
    return web.HTTPTooManyRequests(
        text=json.dumps({"error": f"{message}; try again in {max(1, math.ceil(wait))} s"}),
        content_type="application/json", headers=retry_header(wait))


_TOKEN_THROTTLES: WeakKeyDictionary[web.Application, Throttle] = WeakKeyDictionary()


def token_throttle(app: web.Application) -> Throttle:
    """The app's one throttle for wrong bearer, relay and subscribe tokens (per client)."""
    throttle = _TOKEN_THROTTLES.get(app)
    if throttle is None:
        throttle = _TOKEN_THROTTLES[app] = Throttle()
    return throttle
