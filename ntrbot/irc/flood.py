"""Token bucket for outgoing lines: a burst, then a steady rate (injectable clock)."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """`burst` lines may go at once; tokens come back at `rate` per second."""

    def __init__(self, burst: int = 4, rate: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("burst must be >= 1 and rate > 0")
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self.clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def delay(self) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._refill()
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def try_take(self) -> bool:
        """Take a token if there is one."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
