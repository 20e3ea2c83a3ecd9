"""Why the IRC link went down: one name per reason, counted, with listeners (for metrics)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from enum import StrEnum

log = logging.getLogger("ntrbot.irc")


class Reason(StrEnum):
    """The reason of one reconnect (the value is the metrics label)."""

    CONNECT_FAILED = "connect_failed"  # TCP/TLS connect refused, timed out, unreachable
    SERVER_CLOSED = "server_closed"  # the server closed the connection (restart, EOF, RST)
    ERROR = "error"  # the server sent ERROR (K-line, kill, ...) and closed
    THROTTLED = "throttled"  # ERROR "trying to (re)connect too fast": the server's throttle
    DEAD_LINK = "dead_link"  # lines unconfirmed and the server silent: link presumed dead
    PING_TIMEOUT = "ping_timeout"  # our keepalive PING went unanswered
    REGISTER_TIMEOUT = "register_timeout"  # no 001 within the registration timeout


class ReconnectLog:
    """Counts reconnects by reason and tells listeners: `cb(reason)` for every one."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.last: Reason | None = None
        self._listeners: list[Callable[[Reason], None]] = []

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add_listener(self, cb: Callable[[Reason], None]) -> None:
        self._listeners.append(cb)

    def record(self, reason: Reason) -> None:
        self.last = reason
        self.counts[reason.value] += 1
        for cb in list(self._listeners):
            try:
                cb(reason)
            except Exception:
                log.exception("IRC reconnect listener failed")

    def as_dict(self) -> dict[str, int]:
        """Every reason with its count (0 for those not seen), for /health and metrics."""
        return {r.value: self.counts.get(r.value, 0) for r in Reason}
