"""CTCP VERSION, PING, TIME, CLIENTINFO: a NOTICE to the asker, rate-limited; others ignored."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import irc.strings

from ntrbot import __version__
from ntrbot.irc.flood import TokenBucket
from ntrbot.text import clean

log = logging.getLogger("ntrbot.irc")

ANSWERED = ("CLIENTINFO", "PING", "TIME", "VERSION")
MAX_PING_ARGUMENT = 64  # characters of a PING's argument echoed back
MAX_ASKERS = 1000  # per-asker buckets kept before they are forgotten


def utc_time(now: float | None = None) -> str:
    """'Tue, 04 Mar 2025 22:14:03 +0000' (RFC 5322 style, UTC)."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return stamp.strftime("%a, %d %b %Y %H:%M:%S +0000")


class CtcpResponder:
    """Builds the one NOTICE line answering a CTCP request, or None.

    Each asker (nick) may get `per_asker_burst` answers at once, then one every
    1/`per_asker_rate` s; all askers together `global_burst`, then `global_rate` per second.
    `may_send()` is asked last (the connection's flood budget): False drops the answer.
    """

    def __init__(self, *, version: str | None = None,
                 per_asker_burst: int = 3, per_asker_rate: float = 0.1,
                 global_burst: int = 6, global_rate: float = 0.5,
                 may_send: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.version = version or f"ntrbot {__version__} (NtR playlist bot)"
        self._per_burst, self._per_rate = per_asker_burst, per_asker_rate
        self._global = TokenBucket(global_burst, global_rate, clock)
        self._askers: dict[str, TokenBucket] = {}
        self._may_send = may_send or (lambda: True)
        self._clock = clock
        self._wall = wall_clock
        #: answers sent and requests dropped (rate limit or unknown), for /health and metrics
        self.answered = 0
        self.dropped = 0

    def reply(self, command: str, argument: str = "") -> str | None:
        """The CTCP reply body for a known request (no rate limit), else None."""
        cmd = command.upper()
        if cmd == "VERSION":
            return f"VERSION {self.version}"
        if cmd == "PING":
            arg = clean(argument)[:MAX_PING_ARGUMENT].strip()
            return f"PING {arg}" if arg else "PING"
        if cmd == "TIME":
            return f"TIME {utc_time(self._wall())}"
        if cmd == "CLIENTINFO":
            return "CLIENTINFO " + " ".join(ANSWERED)
        return None

    def _allowed(self, asker: str) -> bool:
        key = str(irc.strings.lower(asker))
        bucket = self._askers.get(key)
        if bucket is None:
            if len(self._askers) >= MAX_ASKERS:
                self._askers.clear()
            bucket = self._askers[key] = TokenBucket(self._per_burst, self._per_rate,
                                                     self._clock)
        # both limits must allow it; a refused global token leaves the asker's untouched
        if bucket.tokens < 1.0 or self._global.tokens < 1.0:
            return False
        return bucket.try_take() and self._global.try_take()

    def answer(self, asker: str, command: str, argument: str = "") -> str | None:
        """The raw `NOTICE asker :\\x01…\\x01` line for this request, or None to stay quiet."""
        body = self.reply(command, argument)
        if body is None:
            log.debug("IRC ignoring CTCP %.20r from %s", command, asker)
            return None
        if not asker or any(c in asker for c in " \r\n\0:,") or not self._allowed(asker):
            self.dropped += 1
            log.debug("IRC not answering CTCP %s from %s: too many too fast",
                      command.upper(), asker)
            return None
        if not self._may_send():
            self.dropped += 1
            return None
        self.answered += 1
        log.info("IRC answering CTCP %s from %s", command.upper(), asker)
        return f"NOTICE {asker} :\x01{body}\x01"
