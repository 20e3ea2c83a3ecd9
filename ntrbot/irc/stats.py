"""The IRC link's counters for /metrics: reconnects by reason, dead links, join refusals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ntrbot.irc.reasons import Reason, ReconnectLog

#: reconnect reasons that mean ntrbot itself judged the link dead
DEAD_LINK_REASONS = (Reason.DEAD_LINK.value, Reason.PING_TIMEOUT.value)
#: every reconnect reason, in the order /metrics lists them
REASONS = tuple(r.value for r in Reason)


class LinkStats:
    """Read by /metrics: the client's reconnects (its ReconnectLog, by reason) and each
    JOIN refusal numeric."""

    def __init__(self, reconnect_log: ReconnectLog, join_refusals: Mapping[str, int]) -> None:
        self._log = reconnect_log
        self.join_refusals = join_refusals  # by numeric: the client's JoinPlan counts them

    @property
    def reconnects(self) -> Counter[str]:
        return self._log.counts

    @property
    def dead_links(self) -> int:
        """Links ntrbot dropped as dead (a line unconfirmed, or no data until ping timeout)."""
        return sum(self._log.counts[r] for r in DEAD_LINK_REASONS)
