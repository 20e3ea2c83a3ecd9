"""Reconnect delays: exponential with jitter, capped, reset after a stable connection."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """Delay before reconnect attempt n is uniform in [d/2, d], d = min(cap, first * factor**n).

    With the defaults the first retry comes within 2 s and no wait exceeds 60 s. A connection
    that stayed up for `stable_after` seconds resets the schedule.
    """

    def __init__(self, first: float = 2.0, cap: float = 60.0, factor: float = 2.0,
                 stable_after: float = 60.0, *, rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if first <= 0 or cap < first or factor < 1:
            raise ValueError("need 0 < first <= cap and factor >= 1")
        self.first = first
        self.cap = cap
        self.factor = factor
        self.stable_after = stable_after
        self._rng = rng or random.Random()
        self._clock = clock
        self.attempt = 0
        self._up_since: float | None = None

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the delay for attempt number `attempt` (0-based)."""
        # Avoid float overflow for long outages.
        exp = min(attempt, 64)
        return min(self.cap, self.first * self.factor ** exp)

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the schedule."""
        d = self.ceiling(self.attempt)
        self.attempt += 1
        return self._rng.uniform(d / 2, d)

    def reset(self) -> None:
        self.attempt = 0

    def connected(self) -> None:
        """Note that a connection (registration) succeeded."""
        self._up_since = self._clock()

    def disconnected(self) -> None:
        """Note a drop; reset the schedule when the connection had been stable."""
        if self._up_since is not None and self._clock() - self._up_since >= self.stable_after:
            self.reset()
        self._up_since = None
