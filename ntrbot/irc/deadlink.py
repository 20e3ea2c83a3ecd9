"""A dead IRC link (silent server): drop it at once, reconnect, requeue unconfirmed lines."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ntrbot.irc.reasons import Reason

if TYPE_CHECKING:
    from ntrbot.irc.confirm import Confirmer
    from ntrbot.irc.delivery import Delivery
    from ntrbot.irc.sendqueue import SendQueue
    from ntrbot.irc.transport import Connection

log = logging.getLogger("ntrbot.irc")


class DeadLink:
    """Mixin for IrcClient: what happens when the link stops answering or goes away."""

    # provided by IrcClient
    _conn: Connection | None
    _stopping: bool
    _reconnect_now: bool
    last_error: str | None
    confirmer: Confirmer
    queue: SendQueue
    _clock: Callable[[], float]
    _down_reason: Reason | None
    _slow_logged: bool

    if TYPE_CHECKING:  # methods of IrcClient
        def _safe(self, fn: Callable[..., Any], *args: Any) -> None: ...
        def _keepalive(self, token: str = ...) -> None: ...

    def _link_dead(self, item: Delivery) -> None:
        """A line stayed unconfirmed and the server silent too long: reconnect at once."""
        conn = self._conn
        if conn is None or not conn.is_connected() or self._stopping:
            return
        log.warning("IRC link presumed dead: no confirmation of the line to %s and nothing "
                    "from the server for %g s; reconnecting now", item.target,
                    self.confirmer.timeout)
        self._drop_link("IRC link lost — reconnecting", why=Reason.DEAD_LINK)

    def _link_slow(self, item: Delivery) -> None:
        """A line is unconfirmed but the server still sends: slow (flood penalty), not dead.

        The line is never re-sent while the link lives; our keepalive PING makes sure the
        server owes us an answer, so that its silence would still show a dead link.
        """
        if not self._slow_logged:
            self._slow_logged = True
            log.info("IRC server is slow to confirm the line to %s (over %g s; a flood "
                     "penalty?) but still sending: waiting, not reconnecting", item.target,
                     self.confirmer.timeout)
        self._keepalive()

    def _drop_link(self, reason: str, why: Reason = Reason.DEAD_LINK) -> None:
        """Close the connection at once (a dead link would never flush a QUIT)."""
        conn = self._conn
        if conn is None:
            return
        self._reconnect_now = True
        self._down_reason = why
        self.last_error = reason
        transport = conn.transport
        self._safe(conn.disconnect, reason)
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()

    def _link_down(self) -> None:
        """The connection is gone: lines not yet confirmed go back to the queue once."""
        now = self._clock()
        for item in reversed(self.confirmer.take_unconfirmed()):
            if item.attempts >= 2:
                item.set("failed", "not confirmed: written twice, the server confirmed "
                         "neither in time (it may still have reached the channel)")
            elif now >= item.fresh_until:
                item.set("expired", "not confirmed before the link was lost; too old to "
                         "send again")
            else:
                item.set("queued", "the IRC link was lost before the server confirmed it; "
                         "re-sending after the rejoin")
                if self.queue.put(item, front=True) is None:
                    item.set("failed", "send queue full")
