"""Channel joins: keys, why a join was refused, and when to try again (2, 4, 8 … 60 s)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import irc.strings

import ntrbot.irc.redact  # noqa: F401 (keys never reach the DEBUG log)
from ntrbot.retry import Schedule

#: JOIN refusal numerics and the short word the status bar shows for each.
REFUSAL_REASONS = {
    "471": "full", "473": "invite only", "474": "banned", "475": "bad key",
    "403": "no such channel", "405": "too many channels", "477": "needs a registered nick",
    "489": "needs TLS", "520": "needs operator status",
}

FIRST_RETRY = 2.0
MAX_RETRY = 60.0


def _key(channel: str) -> str:
    return str(irc.strings.lower(channel))


@dataclass
class Refusal:
    """The server's last answer to our JOIN of one channel, and when we ask again."""

    channel: str
    numeric: str
    text: str
    attempts: int
    retry_at: float

    @property
    def reason(self) -> str:
        return REFUSAL_REASONS.get(self.numeric, "refused")

    @property
    def message(self) -> str:
        """'#sewerchat: banned (474 Cannot join channel (+b))'."""
        return f"{self.channel}: {self.reason} ({self.numeric} {self.text})"

    def as_json(self, now: float) -> dict[str, Any]:
        return {"channel": self.channel, "numeric": self.numeric, "reason": self.reason,
                "text": self.text, "message": self.message, "attempts": self.attempts,
                "retry_in": round(max(0.0, self.retry_at - now), 1)}


class JoinPlan:
    """Which channels to JOIN now, with their keys; refused joins back off from 2 s to 60 s.

    `unanswered`: a JOIN the server neither accepted nor refused is sent again after this.
    A successful join resets that channel's backoff. Keys are only ever put in JOIN lines.
    """

    def __init__(self, channels: Iterable[str], keys: Mapping[str, str] | None = None, *,
                 first: float = FIRST_RETRY, cap: float = MAX_RETRY,
                 unanswered: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.channels = list(channels)
        self._keys = {_key(c): k for c, k in (keys or {}).items()}
        self._schedule = Schedule(first, 2.0, cap)
        self.unanswered = unanswered
        self._clock = clock
        self._next: dict[str, float] = {}  # channel key -> no JOIN before this time
        self._refusals: dict[str, Refusal] = {}
        #: every refusal since start, by numeric (for /metrics)
        self.refusal_counts: dict[str, int] = {}

    def line(self, channel: str) -> str:
        """The JOIN line for `channel`, with its key when one is configured."""
        key = self._keys.get(_key(channel))
        return f"JOIN {channel} {key}" if key else f"JOIN {channel}"

    def wanted(self, channel: str) -> bool:
        return _key(channel) in {_key(c) for c in self.channels}

    def delay(self, attempts: int) -> float:
        """Seconds before retry number `attempts` (1-based): first, 2×first, … cap."""
        return self._schedule.ceiling(attempts - 1)

    # --- events --------------------------------------------------------------

    def new_connection(self) -> None:
        """A new connection: every channel may be joined at once; refusals stay shown."""
        self._next.clear()

    def sent(self, channel: str) -> None:
        self._next[_key(channel)] = self._clock() + self.unanswered

    def hold(self, channel: str, seconds: float) -> None:
        """No JOIN of `channel` for `seconds` (after a kick)."""
        self._next[_key(channel)] = self._clock() + seconds

    def joined(self, channel: str) -> bool:
        """We are in `channel`; True when a refusal was cleared by it."""
        self._next.pop(_key(channel), None)
        return self._refusals.pop(_key(channel), None) is not None

    def refused(self, channel: str, numeric: str, text: str) -> Refusal:
        """The server refused our JOIN: remember why and when to try again."""
        k = _key(channel)
        old = self._refusals.get(k)
        attempts = (old.attempts if old else 0) + 1
        now = self._clock()
        name = next((c for c in self.channels if _key(c) == k), channel)
        refusal = Refusal(name, numeric, text, attempts, now + self.delay(attempts))
        self._refusals[k] = refusal
        self._next[k] = refusal.retry_at
        self.refusal_counts[numeric] = self.refusal_counts.get(numeric, 0) + 1
        return refusal

    # --- questions -----------------------------------------------------------

    def due(self, channel: str, joined: Mapping[str, str] | Iterable[str]) -> bool:
        """Should `channel` be joined now (not in it, and not waiting for a retry)?"""
        k = _key(channel)
        # a timer may fire a hair early: 10 ms of slack
        return k not in joined and self._clock() + 0.01 >= self._next.get(k, 0.0)

    def to_join(self, joined: Mapping[str, str] | Iterable[str]) -> list[str]:
        """The wanted channels that are due for a JOIN now."""
        return [c for c in self.channels if self.due(c, joined)]

    def refusal(self, channel: str) -> Refusal | None:
        return self._refusals.get(_key(channel))

    def refusals(self) -> list[dict[str, Any]]:
        """JSON for /health: one entry per channel whose last JOIN was refused."""
        now = self._clock()
        return [r.as_json(now) for r in self._refusals.values()]
