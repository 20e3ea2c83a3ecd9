"""Retry waits: one exponential schedule and one Retry-After parser (pure, no I/O)."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: Delta-seconds as servers send them: digits, optionally with a fraction (Discord's 0.25).
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
#: A longer run of digits is more seconds than any cap (and int() refuses very long ones).
_MAX_DIGITS = 15


@dataclass(frozen=True)
class Schedule:
    """Exponential waits: ceiling(step) = min(cap, first * factor**step), step 0 first.

    With `jitter` j (0..1) a delay is uniform in [(1 - j) * ceiling, ceiling], drawn from
    `rng` (a seeded random.Random in tests). A huge step never overflows: it is the cap.
    """

    first: float
    factor: float = 2.0
    cap: float = math.inf
    jitter: float = 0.0
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not (self.first >= 0 and self.cap >= 0 and self.factor >= 1
                and 0 <= self.jitter <= 1):
            raise ValueError("need first >= 0, cap >= 0, factor >= 1, 0 <= jitter <= 1")

    def ceiling(self, step: int) -> float:
        """The longest wait before retry number `step` (0-based; a negative step is 0)."""
        if step <= 0 or self.factor == 1 or self.first == 0:
            return float(min(self.cap, self.first))
        try:
            wait = self.first * float(self.factor) ** step
        except OverflowError:
            return float(self.cap)
        return float(min(self.cap, wait))

    def delay(self, step: int) -> float:
        """The wait before retry number `step`, with the jitter applied."""
        top = self.ceiling(step)
        if not self.jitter:
            return top
        low = top * (1 - self.jitter)
        return self.rng.uniform(low, top) if self.rng else random.uniform(low, top)


def parse_retry_after(value: object, *, cap: float = math.inf,
                      now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value, at most `cap`; None when it says nothing usable.

    The value is delta-seconds (`"120"`, `"0.25"`, or a JSON number such as Discord's
    `retry_after`) or an HTTP-date (`"Wed, 21 Oct 2015 07:28:00 GMT"`; a date already past
    is 0). Missing, empty, negative, NaN, infinite or any other text is None. `now` (aware)
    is the time an HTTP-date is measured from; the current time when not given.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value < 0:
            return None
        return float(cap) if value >= 10 ** _MAX_DIGITS else float(min(cap, value))
    if isinstance(value, float):
        return float(min(cap, value)) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.match(text):
        whole = text.partition(".")[0]
        if len(whole) > _MAX_DIGITS:
            return float(cap)
        return float(min(cap, float(text)))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return float(min(cap, max(0.0, seconds)))
