"""The IRC link's counters for /metrics: reconnects by reason, dead links, join refusals."""

from __future__ import annotations

from collections import Counter

import irc.events

#: JOIN refusals by jaraco event name -> numeric (full, invite only, banned, bad key, ...)
JOIN_REFUSALS = {name: code for code, name in irc.events.numeric.items() if code in {
    "403", "405", "471", "473", "474", "475", "477", "489"}}
#: reconnect reasons that mean ntrbot itself judged the link dead
DEAD_LINK_REASONS = ("dead_link", "ping_timeout")
REASONS = ("connect_failed", "closed", "server_error", "ping_timeout", "dead_link",
           "registration_timeout", "other")


def reason_of(last_error: str | None) -> str:
    """Why the link went down (or a connect failed), from the client's `last_error`."""
    text = last_error or ""
    if text.startswith("connect to"):
        return "connect_failed"
    if "ping timeout" in text:
        return "ping_timeout"
    if text.startswith("IRC link lost"):
        return "dead_link"  # a line stayed unconfirmed: the link was dropped
    if text.startswith("not registered after"):
        return "registration_timeout"
    if text.startswith("disconnected: server said") or text.startswith("server:"):
        return "server_error"  # an ERROR line before the close (K-line, throttle ...)
    if text.startswith("disconnected"):
        return "closed"
    return "other"


class LinkStats:
    """Counted by IrcClient: each reconnect (with the reason the link or connect ended)
    and each JOIN refusal numeric."""

    def __init__(self) -> None:
        self.reconnects: Counter[str] = Counter()
        self.join_refusals: Counter[str] = Counter()

    def reconnecting(self, last_error: str | None) -> None:
        self.reconnects[reason_of(last_error)] += 1

    def on_event(self, event_type: str) -> None:
        code = JOIN_REFUSALS.get(event_type)
        if code is not None:
            self.join_refusals[code] += 1

    @property
    def dead_links(self) -> int:
        """Links ntrbot dropped as dead (a line unconfirmed, or no data until ping timeout)."""
        return sum(self.reconnects[r] for r in DEAD_LINK_REASONS)
