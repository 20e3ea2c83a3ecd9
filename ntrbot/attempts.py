"""Per-client attempt limits in a sliding window (logins, wrong tokens): pure bookkeeping,
reserved on arrival; the HTTP side (ntrbot/http/throttle.py) turns a wait into a 429."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

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


class LoginThrottle(Throttle):
    """Logins allowed per client within a sliding window (reserved on arrival). No overall
    cap by default: strangers failing from a few addresses must not lock the host out."""

    def __init__(self, per_client: int = 5, overall: int | None = None, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per_client, overall, window, clock)
