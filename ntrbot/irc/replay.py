"""Replayed history: playback batches and old `server-time` tags mark lines not to answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

REPLAY_BATCHES = frozenset({"chathistory", "znc.in/playback", "draft/chathistory"})
MAX_AGE = 60.0  # seconds: a command older than this is history, not a request
MAX_BATCHES = 100


def tag(tags: Iterable[Mapping[str, Any]] | None, key: str) -> str | None:
    """The value of message tag `key` in jaraco's [{'key', 'value'}] list (None if absent)."""
    for item in tags or ():
        if item.get("key") == key:
            return item.get("value")
    return None


def server_time(value: str | None) -> float | None:
    """A `time=` tag (ISO 8601, e.g. 2026-03-11T22:00:00.000Z) as a Unix time, or None."""
    if not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        return None
    return stamp.timestamp()


def track_batch(batches: dict[str, str], ref: str, args: list[str],
                tags: Iterable[Mapping[str, Any]] | None) -> None:
    """Record `BATCH +ref type ...` / forget `BATCH -ref`; a nested batch inherits replay."""
    if ref.startswith("+") and len(ref) > 1:
        kind = args[0].lower() if args else ""
        parent = batches.get(tag(tags, "batch") or "")
        if parent in REPLAY_BATCHES:
            kind = parent
        if len(batches) >= MAX_BATCHES:
            batches.clear()
        batches[ref[1:]] = kind
    elif ref.startswith("-"):
        batches.pop(ref[1:], None)


def replay_reason(tags: Iterable[Mapping[str, Any]] | None, batches: Mapping[str, str],
                  now: float | None = None, skew: float = 0.0) -> str | None:
    """Why a message is history (a playback batch, an old server-time), or None if live.

    `skew`: how far the server's clock is behind ours (seconds), measured on a live line.
    """
    ref = tag(tags, "batch")
    if ref is not None and batches.get(ref) in REPLAY_BATCHES:
        return f"inside a {batches[ref]} batch"
    sent = server_time(tag(tags, "time"))
    if sent is not None:
        age = (time.time() if now is None else now) - sent - skew
        if age > MAX_AGE:
            return f"server-time {age:.0f} s old"
    return None


class ReplayFilter:
    """Per-connection state: open batches, and the server clock's skew from a live line."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.batches: dict[str, str] = {}
        self.skew = 0.0

    def reset(self) -> None:
        """A new connection (001): no batches are open, the skew is unknown."""
        self.batches.clear()
        self.skew = 0.0

    def live(self, tags: Iterable[Mapping[str, Any]] | None) -> None:
        """A line known to be live (001): a server clock that is off must not deafen us."""
        sent = server_time(tag(tags, "time"))
        if sent is not None:
            self.skew = self._clock() - sent

    def batch(self, ref: str, args: list[str],
              tags: Iterable[Mapping[str, Any]] | None) -> None:
        """A BATCH line."""
        track_batch(self.batches, ref, args, tags)

    def reason(self, tags: Iterable[Mapping[str, Any]] | None) -> str | None:
        """Why this message is history, or None when it should be answered."""
        return replay_reason(tags, self.batches, self._clock(), self.skew)
