"""The IRC link's counters for /metrics: reconnects by reason, dead links, join refusals."""

from __future__ import annotations

from collections import Counter

import irc.events

from .reasons import Reason, ReconnectLog

#: JOIN refusals by jaraco event name -> numeric (full, invite only, banned, bad key, ...)
JOIN_REFUSALS = {name: code for code, name in irc.events.numeric.items() if code in {
    "403", "405", "471", "473", "474", "475", "477", "489"}}
#: reconnect reasons that mean ntrbot itself judged the link dead
DEAD_LINK_REASONS = (Reason.DEAD_LINK.value, Reason.PING_TIMEOUT.value)
#: every reconnect reason, in the order /metrics lists them
REASONS = tuple(r.value for r in Reason)


class LinkStats:
    """Read by /metrics: the client's reconnects (its ReconnectLog, by reason) and each
    JOIN refusal numeric, counted by IrcClient."""

    def __init__(self, reconnect_log: ReconnectLog) -> None:
        self._log = reconnect_log
        self.join_refusals: Counter[str] = Counter()

    @property
    def reconnects(self) -> Counter[str]:
        return self._log.counts

    def on_event(self, event_type: str) -> None:
        code = JOIN_REFUSALS.get(event_type)
        if code is not None:
            self.join_refusals[code] += 1

    @property
    def dead_links(self) -> int:
        """Links ntrbot dropped as dead (a line unconfirmed, or no data until ping timeout)."""
        return sum(self._log.counts[r] for r in DEAD_LINK_REASONS)
