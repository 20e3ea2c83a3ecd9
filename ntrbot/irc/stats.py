"""The IRC link's counters for /metrics: the reconnect reasons and which mean a dead link."""

from __future__ import annotations

from collections.abc import Mapping

from ntrbot.irc.reasons import Reason

#: reconnect reasons that mean ntrbot itself judged the link dead
DEAD_LINK_REASONS = (Reason.DEAD_LINK.value, Reason.PING_TIMEOUT.value)
#: every reconnect reason, in the order /metrics lists them
REASONS = tuple(r.value for r in Reason)


def dead_links(reconnects_by_reason: Mapping[str, int]) -> int:
    """Links ntrbot dropped as dead (a line unconfirmed, or no data until ping timeout)."""
    return sum(reconnects_by_reason.get(r, 0) for r in DEAD_LINK_REASONS)
