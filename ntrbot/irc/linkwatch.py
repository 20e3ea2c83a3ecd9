"""Keep the IRC link honest: keepalive PING, ping/registration timeouts, dead links, rejoins."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.link import LinkActions, LinkState, safely
from ntrbot.irc.reasons import Reason
from ntrbot.irc.transport import reset_on_close

if TYPE_CHECKING:
    from ntrbot.irc.backoff import Backoff
    from ntrbot.irc.confirm import Confirmer
    from ntrbot.irc.delivery import Delivery
    from ntrbot.irc.joins import JoinPlan
    from ntrbot.irc.sendqueue import SendQueue

log = logging.getLogger("ntrbot.irc")


class LinkWatch:
    """Watches one link at a time: `run()` while it is up; the Confirmer calls `link_dead`
    and `link_slow`; `link_down()` when it is gone puts unconfirmed lines back in the queue."""

    def __init__(self, state: LinkState, link: LinkActions, queue: SendQueue,
                 confirmer: Confirmer, joins: JoinPlan, backoff: Backoff, *,
                 ping_interval: float = 90.0, ping_timeout: float = 60.0,
                 register_timeout: float = 30.0, nick_retry_interval: float = 30.0,
                 live_ping_interval: float = 30.0, live_ping_timeout: float = 15.0,
                 is_live: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self.link = link
        self.queue = queue
        self.confirmer = confirmer
        self.joins = joins
        self.backoff = backoff
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.register_timeout = register_timeout
        self.nick_retry_interval = nick_retry_interval
        self.live_ping_interval = live_ping_interval
        self.live_ping_timeout = live_ping_timeout
        self._is_live = is_live or (lambda: False)
        self._clock = clock

    async def run(self) -> None:
        """Client-side PING, dead-connection detection, nick reclaim and rejoin."""
        st = self.state
        step = max(0.05, min(1.0, self.ping_interval / 4, self.live_ping_interval / 4,
                             self.nick_retry_interval / 2))
        last_nick_try = self._clock()
        while True:
            await asyncio.sleep(step)
            conn = st.connection
            if conn is None or not conn.is_connected():
                continue
            now = self._clock()
            idle = now - st.last_rx
            interval, timeout = self.ping_interval, self.ping_timeout
            if self._is_live():
                interval = min(interval, self.live_ping_interval)
                timeout = min(timeout, self.live_ping_timeout)
            if st.ping_sent is not None and now - st.ping_sent >= timeout:
                self.link.set_error(f"no data from the server for {idle:.0f} s (ping timeout)")
                log.warning("IRC %s; reconnecting", st.last_error)
                self.drop(f"IRC link lost — no data for {idle:.0f} s (ping timeout); "
                          "reconnecting", why=Reason.PING_TIMEOUT)
                continue
            if idle >= interval and st.ping_sent is None:
                self.keepalive()
            if not st.registered:
                if now - st.connected_at >= self.register_timeout:
                    self.link.set_error(f"not registered after {self.register_timeout:g} s")
                    log.warning("IRC %s; reconnecting", st.last_error)
                    st.down_reason = Reason.REGISTER_TIMEOUT
                    safely(conn.disconnect, "registration timeout")
                continue
            if st.nick != st.wanted_nick and now - last_nick_try >= self.nick_retry_interval:
                last_nick_try = now  # a ghost of ours may hold it until it pings out
                self.link.send_raw(f"NICK {st.wanted_nick}")
            for ch in self.joins.to_join(st.joined):
                self.link.join(ch)

    def heard(self) -> None:
        """The server sent something: the link lives (any keepalive PING is answered)."""
        self.state.last_rx = self._clock()
        self.state.ping_sent = None

    def traffic(self) -> None:
        """A PONG or a confirmed line: once joined, the link has recovered from an outage."""
        if self.state.registered and self.state.joined and not self.backoff.is_recovered:
            self.backoff.recovered()
            log.debug("IRC link carries traffic again; reconnect backoff starts over")

    def keepalive(self, token: str = "ntrbot-k") -> None:
        """Our own PING: the server must answer it, so its silence then means a dead link."""
        st = self.state
        if st.ping_sent is None:
            st.ping_seq += 1
            st.ping_sent = self._clock()
            self.link.send_raw(f"PING :{token}{st.ping_seq}")

    def link_dead(self, item: Delivery) -> None:
        """A line stayed unconfirmed and the server silent too long: reconnect at once."""
        if not self.state.is_connected() or self.state.stopping:
            return
        log.warning("IRC link presumed dead: no confirmation of the line to %s and nothing "
                    "from the server for %g s; reconnecting now", item.target,
                    self.confirmer.timeout)
        self.drop("IRC link lost — reconnecting", why=Reason.DEAD_LINK)

    def link_slow(self, item: Delivery) -> None:
        """A line is unconfirmed but the server still sends: slow (flood penalty), not dead.

        The line is never re-sent while the link lives; our keepalive PING makes sure the
        server owes us an answer, so that its silence would still show a dead link.
        """
        if not self.state.slow_logged:
            self.state.slow_logged = True
            log.info("IRC server is slow to confirm the line to %s (over %g s; a flood "
                     "penalty?) but still sending: waiting, not reconnecting", item.target,
                     self.confirmer.timeout)
        self.keepalive()

    def drop(self, reason: str, why: Reason = Reason.DEAD_LINK) -> None:
        """Reset the connection at once: a dead link would never flush a QUIT, and no line
        written on it may reach the server later (see transport.reset_on_close)."""
        st = self.state
        conn = st.connection
        if conn is None:
            return
        st.reconnect_now = True
        st.down_reason = why
        st.last_error = reason
        transport = conn.transport
        if transport is not None:
            reset_on_close(transport)
        safely(conn.disconnect, reason)
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()

    def link_down(self) -> None:
        """The connection is gone: lines not yet confirmed go back to the queue once."""
        now = self._clock()
        for item in reversed(self.confirmer.take_unconfirmed()):
            if item.attempts >= 2:
                item.set(DeliveryState.FAILED, "not confirmed: written twice, the server "
                         "confirmed neither in time (it may still have reached the channel)")
            elif now >= item.fresh_until:
                item.set(DeliveryState.EXPIRED, "not confirmed before the link was lost; too "
                         "old to send again")
            else:
                item.set(DeliveryState.QUEUED, "the IRC link was lost before the server "
                         "confirmed it; re-sending after the rejoin")
                if self.queue.put(item, front=True) is None:
                    item.set(DeliveryState.FAILED, "send queue full")
