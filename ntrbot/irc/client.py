"""IRC transport on jaraco `irc` (asyncio): connect, register, stay up, send safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import irc.client
import irc.strings

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.backend import IrcStatus, StatusListener
from ntrbot.irc.backoff import Backoff
from ntrbot.irc.command_runner import CommandRunner
from ntrbot.irc.commands import CommandHandler
from ntrbot.irc.confirm import REFUSAL_TYPES, Confirmer
from ntrbot.irc.delivery import Delivery, finished
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.handlers import Protocols, ServerEvents
from ntrbot.irc.joins import JoinPlan
from ntrbot.irc.lines import safe_line
from ntrbot.irc.link import LinkState, safely
from ntrbot.irc.linkwatch import LinkWatch
from ntrbot.irc.reasons import Reason, ReconnectLog
from ntrbot.irc.sendqueue import SendQueue
from ntrbot.irc.transport import Connection, Reactor, make_factory
from ntrbot.settings import Settings
from ntrbot.text import clean

__all__ = ["IrcClient"]

log = logging.getLogger("ntrbot.irc")

MAX_REPLY_QUEUE = 40


class IrcClient:
    """One IRC connection for the whole process; reconnects until stop().

    Composes the link's collaborators over one LinkState: LinkWatch (keepalive, timeouts,
    dead links), ServerEvents (what each server event changes), CommandRunner (commands),
    the SendQueue and the Confirmer (what becomes of each line).
    """

    def __init__(self, settings: Settings, commands: CommandHandler | None = None, *,
                 connect_factory: Callable[..., Any] | None = None,
                 backoff: Backoff | None = None,
                 ping_interval: float = 90.0, ping_timeout: float = 60.0,
                 connect_timeout: float = 30.0, register_timeout: float = 30.0,
                 nick_retry_interval: float = 30.0,
                 rejoin_delay: float = 5.0, join_retry_interval: float = 60.0,
                 confirm_timeout: float = 5.0,
                 live_ping_interval: float = 30.0, live_ping_timeout: float = 15.0,
                 is_live: Callable[[], bool] | None = None,
                 username: str = "ntrbot",
                 realname: str = "ntrbot NtR playlist bot",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not settings.irc_server:
            raise ValueError("IrcClient needs settings.irc_server")
        self.settings = settings
        self.host = settings.irc_server
        self.wanted_nick = settings.irc_nick
        chans: dict[str, str] = {}
        for ch in (*settings.irc_channels, *settings.announce_channels):
            chans.setdefault(irc.strings.lower(ch), ch)
        self.channels = list(chans.values())
        self._connect_factory = connect_factory
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.username = username
        self.realname = realname
        self._clock = clock
        self.state = LinkState(self.wanted_nick, settings.irc_port)
        self.queue = SendQueue(
            TokenBucket(settings.irc_flood_burst, settings.irc_flood_rate, clock),
            max_normal=MAX_REPLY_QUEUE)
        self.confirmer = Confirmer(self._send_raw_strict, lambda: self.caps,
                                   lambda item: self.watch.link_dead(item),
                                   timeout=confirm_timeout, last_rx=lambda: self.state.last_rx,
                                   on_slow=lambda item: self.watch.link_slow(item), clock=clock)
        #: every reconnect by reason; add_reconnect_listener() for metrics
        self.reconnects = ReconnectLog()
        self.joins = JoinPlan(self.channels, settings.channel_keys,
                              unanswered=join_retry_interval, clock=clock)
        self.watch = LinkWatch(self.state, self, self.queue, self.confirmer, self.joins,
                               self.backoff, ping_interval=ping_interval,
                               ping_timeout=ping_timeout, register_timeout=register_timeout,
                               nick_retry_interval=nick_retry_interval,
                               live_ping_interval=live_ping_interval,
                               live_ping_timeout=live_ping_timeout, is_live=is_live,
                               clock=clock)
        self.protocols = Protocols.build(settings, self.send_raw, self.set_error,
                                         may_send=self.queue.bucket.try_take, clock=clock)
        self.ctcp = self.protocols.ctcp
        self.nickserv = self.protocols.nickserv
        self.sts = self.protocols.sts
        replay = self.protocols.replay
        self.command_runner = CommandRunner(self.state, self.queue, replay, self._fit, commands,
                                            clock=clock)
        self.events = ServerEvents(settings, self.state, self, self.queue, self.joins,
                                   self.watch, self.protocols, self.command_runner, self.backoff,
                                   self.reconnects, host=self.host,
                                   rejoin_delay=rejoin_delay, clock=clock)
        self._main: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._listeners: list[StatusListener] = []

    # --- the link's state, read-only -----------------------------------------

    @property
    def registered(self) -> bool:
        return self.state.registered

    @property
    def nick(self) -> str:
        return self.state.nick

    @property
    def port(self) -> int:
        return self.state.port

    @property
    def userhost(self) -> str | None:
        return self.state.userhost

    @property
    def joined(self) -> dict[str, str]:
        return self.state.joined

    @property
    def last_error(self) -> str | None:
        return self.state.last_error

    @property
    def bot_mode(self) -> str | None:
        """The BOT= user mode letter set on this connection."""
        return self.state.bot_mode

    @property
    def commands(self) -> CommandHandler | None:
        return self.command_runner.commands

    @property
    def caps(self) -> frozenset[str]:
        """Capabilities enabled on the current connection (lowercase names)."""
        return frozenset(self.protocols.cap.enabled)

    # --- public interface --------------------------------------------------

    def set_commands(self, commands: CommandHandler) -> None:
        """Answer channel commands with `commands` (the composition root wires them)."""
        self.command_runner.commands = commands

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._main is not None:
            return
        reactor = Reactor(loop=asyncio.get_running_loop())
        reactor.add_global_handler("all_events", self._dispatch, 0)
        self.state.connection = reactor.server()
        self._main = asyncio.create_task(self._run(), name="irc-connect")
        self._sender = asyncio.create_task(self.queue.run(self._ready_for, self._write),
                                           name="irc-send")

    async def stop(self, message: str = "ntrbot shutting down") -> None:
        """Send QUIT, stop every task, resolve queued lines as failed."""
        self.state.stopping = True
        conn = self.state.connection
        if conn is not None and conn.is_connected():
            log.info("IRC quitting: %s", message)
            with contextlib.suppress(Exception):
                conn.disconnect(clean(message)[:300])
        tasks = [t for t in (self._main, self._sender, *self.command_runner.tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._main = self._sender = None
        self.sts.disconnected()
        for item in self.confirmer.take_unconfirmed():
            item.set(DeliveryState.FAILED,
                     "not confirmed: ntrbot stopped before the server answered")
        self.queue.fail_all("IRC client stopped before the line was sent")

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None, confirm: bool = False) -> Delivery:
        """Send one line to `target` (sanitized, fitted); the Delivery follows it.

        priority=True puts the line ahead of queued command replies. While disconnected the
        line waits and is sent once after reconnect and join if still within `fresh_for`
        seconds (default NTR_ANNOUNCE_FRESH_SECONDS), else it ends "expired". With
        `confirm` it is "delivered" only once the server confirmed it (see Confirmer), and
        re-sent once after a reconnect if the link died before that.
        """
        line = self._fit(target, text)
        if not line:
            return finished(target, line, DeliveryState.FAILED,
                            "nothing to send after removing control characters")
        if self.state.stopping or self._main is None:
            return finished(target, line, DeliveryState.FAILED, "IRC client is not running")
        fresh = self.settings.announce_fresh_seconds if fresh_for is None else fresh_for
        item = Delivery(target, line, priority=priority, confirm=confirm, fresh_for=fresh,
                        clock=self._clock)
        if self.queue.send_now(item, ready=self._ready_for, write=self._write):
            return item
        if self.queue.put(item) is None:
            item.set(DeliveryState.FAILED, "send queue full")
        elif self._ready_for(target):
            item.detail = f"queued behind the flood limit for {target}"
        elif not self.state.registered:
            item.detail = f"IRC disconnected; will send on reconnect if within {fresh:g} s"
        else:
            item.detail = f"not in {target} yet; will send after joining if within {fresh:g} s"
        return item

    def status(self) -> IrcStatus:
        """The connection state for /health and the dashboard."""
        st, last = self.state, self.reconnects.last
        return IrcStatus(
            enabled=True, connected=st.registered, server=f"{self.host}:{st.port}",
            tls=self.sts.tls, sts=self.sts.policy, nick=st.nick,
            channels=tuple(sorted(st.joined.values())),
            join_refusals=tuple(self.joins.refusals()),
            join_refusal_counts=dict(self.joins.refusal_counts),
            last_error=st.last_error, queued=len(self.queue),
            unconfirmed=len(self.confirmer), caps=tuple(sorted(self.caps)),
            reconnects=self.reconnects.total, reconnects_by_reason=self.reconnects.as_dict(),
            last_disconnect_reason=last.value if last else None)

    def add_reconnect_listener(self, cb: Callable[[Reason], None]) -> None:
        """`cb(reason)` for every lost connection or failed connect (see irc/reasons.py)."""
        self.reconnects.add_listener(cb)

    def add_listener(self, cb: StatusListener) -> None:
        """`cb(status())` is called on connect, disconnect, join, part and error."""
        self._listeners.append(cb)

    # --- what the collaborators may ask (LinkActions) -----------------------

    def send_raw(self, line: str) -> None:
        """Write one protocol line now; a failure is logged (the link handles it)."""
        if self.state.connection is not None:
            safely(self.state.connection.send_raw, line)

    def join(self, channel: str) -> None:
        """Send the JOIN for `channel` (with its key)."""
        self.joins.sent(channel)
        self.send_raw(self.joins.line(channel))  # may carry the key: never logged

    def set_error(self, text: str) -> None:
        """Set last_error and tell the status listeners."""
        self.state.last_error = text
        self.notify()

    def notify(self) -> None:
        """Tell the status listeners."""
        st = self.status()
        for cb in list(self._listeners):
            try:
                cb(st)
            except Exception:
                log.exception("IRC status listener failed")

    # --- sending -------------------------------------------------------------

    def _fit(self, target: str, text: str) -> str:
        # The nick may still change (alternate nick); budget for the longer one.
        nick = max(self.state.nick, self.wanted_nick + "__", key=len)
        return safe_line(text, nick=nick, target=target, userhost=self.state.userhost)

    def _ready_for(self, target: str) -> bool:
        if not self.state.registered or not self.state.is_connected():
            return False
        if irc.client.is_channel(target) and not self.state.in_channel(target):
            # Channels we are meant to be in: wait for the join. Others: just try.
            return not self.joins.wanted(target)
        return True

    def _write(self, item: Delivery) -> None:
        conn = self.state.connection
        assert conn is not None
        if item.confirm:
            self.confirmer.write(item)
        else:
            conn.privmsg(item.target, item.line)
            item.finish(DeliveryState.SENT, f"sent to {item.target}")
        log.debug("IRC sent to %s: %s", item.target, item.line)

    def _send_raw_strict(self, line: str) -> None:
        """Write one raw line; a failure raises (the line's delivery then fails)."""
        conn = self.state.connection
        if conn is None or not conn.is_connected():
            raise ConnectionError("not connected")
        conn.send_raw(line)

    # --- connection loop -----------------------------------------------------

    async def _run(self) -> None:
        st, conn = self.state, self.state.connection
        assert conn is not None
        while not st.stopping:
            st.new_connection()
            self.joins.new_connection()
            st.port, tls = self.sts.target()  # an STS policy: TLS on its port, never plain
            log.info("IRC connecting to %s:%s%s as %s", self.host, st.port,
                     " (TLS)" if tls else "", self.wanted_nick)
            factory = make_factory(self._connect_factory, tls=tls,
                                   tls_verify=self.settings.irc_tls_verify,
                                   tls_cert=self.settings.irc_tls_cert,
                                   tls_key=self.settings.irc_tls_key,
                                   first_lines=["CAP LS 302"])
            self.protocols.cap.begin()
            if self.protocols.sasl:
                self.protocols.sasl.begin()
            conn.transport = None
            try:
                await asyncio.wait_for(
                    conn.connect(self.host, st.port, self.wanted_nick,
                                 password=self.settings.irc_password or None,
                                 username=self.username, ircname=self.realname,
                                 connect_factory=factory),
                    self.connect_timeout)
            except Exception as exc:  # any failure: retry later
                reason = str(exc) or type(exc).__name__
                self.set_error(f"connect to {self.host}:{st.port} failed: {reason}")
                log.warning("IRC %s", st.last_error)
                self.reconnects.record(Reason.CONNECT_FAILED)
                await self._sleep_backoff()
                continue
            st.last_rx = st.connected_at = self._clock()
            if conn.transport is None or conn.transport.is_closing():
                st.lost.set()  # closed before connect() returned: no event came
            watchdog = asyncio.create_task(self.watch.run(), name="irc-watchdog")
            try:
                await st.lost.wait()
            finally:
                watchdog.cancel()
                with contextlib.suppress(BaseException):
                    await watchdog
            self.sts.disconnected()  # a policy runs for its duration from the close
            if not st.stopping:
                if st.reconnect_now:
                    st.reconnect_now = False
                    log.info("IRC reconnecting at once")
                    continue
                await self._sleep_backoff()

    async def _sleep_backoff(self) -> None:
        delay = self.backoff.next_delay()
        log.info("IRC reconnecting in %.1f s (attempt %d)", delay, self.backoff.attempt)
        await asyncio.sleep(delay)

    def _dispatch(self, conn: Connection, event: irc.client.Event) -> None:
        """Every event of the reactor: confirmations first, then ServerEvents."""
        if conn is not self.state.connection:
            return
        if event.type == "all_raw_messages":
            self.watch.heard()
            return
        try:
            if event.type == "pong":
                self.confirmer.on_pong(event)
                self.watch.traffic()
            elif event.type in REFUSAL_TYPES:
                self.confirmer.on_refusal(event)
            elif event.type in ("pubmsg", "privmsg") and self.state.is_me(
                    getattr(event.source, "nick", None)):
                if self.confirmer.on_echo(event):
                    self.watch.traffic()
                return
        except Exception:
            log.exception("IRC confirmation of %s failed", event.type)
        self.events.handle(event)
