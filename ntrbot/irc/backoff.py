"""Reconnect delays: exponential with jitter, capped, reset once a connection carried traffic."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from ntrbot.retry import Schedule


class Backoff:
    """Delay before reconnect attempt n is uniform in [d/2, d], d = ceiling(n).

    ceiling(n) = min(cap, first * factor**(n - flat + 1)) for n >= flat, else first: the
    first `flat` attempts of an outage all come within `first` seconds (a restarting server
    is usually back within a few seconds), then the waits grow up to `cap`.

    The schedule starts over when a connection recovered: it registered, joined and then
    carried traffic (a confirmed line or a PONG; the client calls recovered()), or it stayed
    up `stable_after` seconds. A connection that dies before that (during registration, or
    right after it) does not reset the schedule: that is the flap protection.

    A server that throttles reconnects ("trying to (re)connect too fast") holds the next
    attempt back by at least `hold` seconds, doubling for every throttle in a row.
    """

    def __init__(self, first: float = 2.0, cap: float = 60.0, factor: float = 2.0,
                 stable_after: float = 60.0, *, flat: int = 3, throttle_hold: float = 5.0,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if first <= 0 or cap < first or factor < 1 or flat < 1 or throttle_hold < 0:
            raise ValueError("need 0 < first <= cap, factor >= 1, flat >= 1, hold >= 0")
        self.stable_after = stable_after
        self.flat = flat
        self.throttle_hold = throttle_hold
        self._rng = rng or random.Random()
        self._schedule = Schedule(first, factor, cap, jitter=0.5, rng=self._rng)
        self._clock = clock
        self.attempt = 0
        self.throttles = 0  # throttled attempts in a row
        self._hold = 0.0  # minimum wait before the next attempt (server throttle)
        self._up_since: float | None = None
        self._recovered = False
        self.last_delay: float | None = None
        self.last_ceiling: float | None = None

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the delay for attempt number `attempt` (0-based)."""
        return self._schedule.ceiling(attempt - self.flat + 1)

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the schedule."""
        d = self.ceiling(self.attempt)
        delay = self._schedule.delay(self.attempt - self.flat + 1)
        self.attempt += 1
        if self._hold > delay:
            delay, d = self._hold, self._hold
        self._hold = 0.0
        self.last_delay, self.last_ceiling = delay, d
        return delay

    def reset(self) -> None:
        self.attempt = 0
        self.throttles = 0
        self._hold = 0.0

    def connected(self) -> None:
        """Note that a connection registered (not yet proof that the link works)."""
        self._up_since = self._clock()
        self._recovered = False

    def recovered(self) -> None:
        """The connection registered, joined and carried traffic: the outage is over."""
        if self._up_since is None:
            self._up_since = self._clock()
        if not self._recovered:
            self._recovered = True
            self.reset()

    @property
    def is_recovered(self) -> bool:
        """True while the current connection counts as recovered."""
        return self._recovered

    def throttled(self, hold: float | None = None) -> float:
        """The server refused the attempt as too fast; returns the wait before the next.

        `hold` is the server's own wait when it said one, else `throttle_hold`; each throttle
        in a row doubles it (capped at `cap`, or at the server's wait when that is longer).
        """
        self.throttles += 1
        base = self.throttle_hold if hold is None else max(0.0, hold)
        self._hold = Schedule(base, 2.0, max(self._schedule.cap, base)).ceiling(self.throttles - 1)
        return self._hold

    def disconnected(self) -> None:
        """Note a drop; reset the schedule when the connection had been stable."""
        if self._up_since is not None and self._clock() - self._up_since >= self.stable_after:
            self.reset()
        self._up_since = None
        self._recovered = False
