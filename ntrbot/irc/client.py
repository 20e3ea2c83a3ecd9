"""IRC transport on jaraco `irc` (asyncio): connect, register, stay up, send safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import irc.client
import irc.strings

from ntrbot.config import Settings
from ntrbot.irc.backoff import Backoff
from ntrbot.irc.caps import CapNegotiator
from ntrbot.irc.commands import CommandHandler
from ntrbot.irc.confirm import REFUSAL_TYPES, Confirmer
from ntrbot.irc.ctcp import CtcpResponder
from ntrbot.irc.deadlink import DeadLink
from ntrbot.irc.delivery import Delivery, finished
from ntrbot.irc.disabled import DisabledIrc
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.handlers import ServerEvents, alternate_nicks
from ntrbot.irc.identify import NickServIdentify
from ntrbot.irc.joins import JoinPlan
from ntrbot.irc.lines import safe_line
from ntrbot.irc.reasons import Reason, ReconnectLog
from ntrbot.irc.replay import ReplayFilter
from ntrbot.irc.sasl import Sasl
from ntrbot.irc.sendqueue import SendQueue
from ntrbot.irc.stats import LinkStats
from ntrbot.irc.sts import Sts, StsStore, policy_path
from ntrbot.irc.transport import Connection, Reactor, make_factory
from ntrbot.text import clean

__all__ = ["Delivery", "DisabledIrc", "IrcClient", "alternate_nicks"]

log = logging.getLogger("ntrbot.irc")

MAX_REPLY_QUEUE = 40


class IrcClient(DeadLink, ServerEvents):
    """One IRC connection for the whole process; reconnects until stop()."""

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
        self.commands = commands
        self.host = settings.irc_server
        self.port = settings.irc_port
        self.wanted_nick = settings.irc_nick
        chans: dict[str, str] = {}
        for ch in (*settings.irc_channels, *settings.announce_channels):
            chans.setdefault(irc.strings.lower(ch), ch)
        self.channels = list(chans.values())
        self._connect_factory = connect_factory
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.register_timeout = register_timeout
        self.nick_retry_interval = nick_retry_interval
        self.rejoin_delay = rejoin_delay
        self.join_retry_interval = join_retry_interval
        self.live_ping_interval = live_ping_interval
        self.live_ping_timeout = live_ping_timeout
        self._is_live = is_live or (lambda: False)
        self.username = username
        self.realname = realname
        self._clock = clock
        self.queue = SendQueue(
            TokenBucket(settings.irc_flood_burst, settings.irc_flood_rate, clock),
            max_normal=MAX_REPLY_QUEUE)
        self.confirmer = Confirmer(self._send_raw_strict, lambda: self.caps, self._link_dead,
                                   timeout=confirm_timeout, last_rx=lambda: self._last_rx,
                                   on_slow=self._link_slow, clock=clock)
        #: every reconnect by reason; add_reconnect_listener() for metrics
        self.reconnects = ReconnectLog()
        self._reconnect_now = False
        self._sasl: Sasl | None = None
        sasl = Sasl(settings.irc_sasl_user, settings.irc_sasl_password, self._send_raw,
                    self._set_error, mechanism=settings.irc_sasl_mechanism,
                    has_cert=bool(settings.irc_tls_cert))
        if sasl.wanted:  # some mechanism is configured
            self._sasl = sasl
        self._cap = CapNegotiator(self._send_raw, want_sasl=self._sasl is not None,
                                  start_sasl=self._sasl.start if self._sasl else None,
                                  no_sasl=self._sasl.unavailable if self._sasl else None)
        if self._sasl:
            self._sasl.on_done = self._cap.end
        self.bot_mode: str | None = None
        self._replay = ReplayFilter()
        # CTCP answers share the flood budget; none when it is spent (announces first)
        self.ctcp = CtcpResponder(may_send=self.queue.bucket.try_take, clock=clock)
        self.nickserv = NickServIdentify(settings.irc_sasl_user or self.wanted_nick,
                                         settings.irc_nickserv_password, self._send_raw)
        # IRCv3 STS: self.port and the TLS flag follow it on every connect
        self.sts = Sts(self.host, self.port, settings.irc_tls, verify=settings.irc_tls_verify,
                       store=StsStore(policy_path(settings.db_path)))

        self._conn: Connection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._stopping = False
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._command_tasks = 0
        self._user_buckets: dict[str, TokenBucket] = {}
        # per-connection state
        self.registered = False
        self.nick = self.wanted_nick
        self.userhost: str | None = None
        self.joined: dict[str, str] = {}  # irc.strings.lower(name) -> name
        self.last_error: str | None = None
        self._last_rx = 0.0
        self._connected_at = 0.0
        self._server_error: str | None = None
        self._throttle: str | None = None  # the server's "(re)connect too fast" ERROR text
        self._down_reason: Reason | None = None  # set when we drop the link ourselves
        self._slow_logged = False
        self._ping_seq = 0
        self._ping_sent: float | None = None
        self._alt: Iterator[str] = alternate_nicks(self.wanted_nick)
        self.joins = JoinPlan(self.channels, settings.channel_keys,
                              unanswered=join_retry_interval, clock=clock)
        # for /metrics: reconnects, join refusals
        self.stats = LinkStats(self.reconnects, self.joins.refusal_counts)

    # --- public interface --------------------------------------------------

    def set_commands(self, commands: CommandHandler) -> None:
        """Answer channel commands with `commands` (the composition root wires them)."""
        self.commands = commands

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._main is not None:
            return
        reactor = Reactor(loop=asyncio.get_running_loop())
        reactor.add_global_handler("all_events", self._dispatch, 0)
        self._conn = reactor.server()
        self._main = asyncio.create_task(self._run(), name="irc-connect")
        self._sender = asyncio.create_task(self.queue.run(self._ready_for, self._write),
                                           name="irc-send")

    async def stop(self, message: str = "ntrbot shutting down") -> None:
        """Send QUIT, stop every task, resolve queued lines as failed."""
        self._stopping = True
        conn = self._conn
        if conn is not None and conn.is_connected():
            log.info("IRC quitting: %s", message)
            with contextlib.suppress(Exception):
                conn.disconnect(clean(message)[:300])
        tasks = [t for t in (self._main, self._sender, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._main = self._sender = None
        self.sts.disconnected()
        for item in self.confirmer.take_unconfirmed():
            item.set("failed", "not confirmed: ntrbot stopped before the server answered")
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
            return finished(target, line, "failed",
                            "nothing to send after removing control characters")
        if self._stopping or self._main is None:
            return finished(target, line, "failed", "IRC client is not running")
        fresh = self.settings.announce_fresh_seconds if fresh_for is None else fresh_for
        item = Delivery(target, line, priority=priority, confirm=confirm, fresh_for=fresh,
                        clock=self._clock)
        if self.queue.send_now(item, ready=self._ready_for, write=self._write):
            return item
        if self.queue.put(item) is None:
            item.set("failed", "send queue full")
        elif self._ready_for(target):
            item.detail = f"queued behind the flood limit for {target}"
        elif not self.registered:
            item.detail = f"IRC disconnected; will send on reconnect if within {fresh:g} s"
        else:
            item.detail = f"not in {target} yet; will send after joining if within {fresh:g} s"
        return item

    def status(self) -> dict[str, Any]:
        """JSON-able connection state for /health and the dashboard."""
        return {
            "enabled": True,
            "connected": self.registered,
            "server": f"{self.host}:{self.port}",
            "tls": self.sts.tls,
            "sts": self.sts.policy,
            "nick": self.nick,
            "channels": sorted(self.joined.values()),
            "join_refusals": self.joins.refusals(),
            "join_refusal_counts": dict(self.joins.refusal_counts),
            "last_error": self.last_error,
            "queued": len(self.queue),
            "unconfirmed": len(self.confirmer),
            "caps": sorted(self.caps),
            "reconnects": self.reconnects.total,
            "reconnects_by_reason": self.reconnects.as_dict(),
            "last_disconnect_reason": (self.reconnects.last.value
                                       if self.reconnects.last else None),
        }

    def add_reconnect_listener(self, cb: Callable[[Reason], None]) -> None:
        """`cb(reason)` for every lost connection or failed connect (see irc/reasons.py)."""
        self.reconnects.add_listener(cb)

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        """`cb(status())` is called on connect, disconnect, join, part and error."""
        self._listeners.append(cb)

    # --- sending -------------------------------------------------------------

    def _fit(self, target: str, text: str) -> str:
        # The nick may still change (alternate nick); budget for the longer one.
        nick = max(self.nick, self.wanted_nick + "__", key=len)
        return safe_line(text, nick=nick, target=target, userhost=self.userhost)

    def _ready_for(self, target: str) -> bool:
        if not self.registered or self._conn is None or not self._conn.is_connected():
            return False
        key = irc.strings.lower(target)
        if irc.client.is_channel(target) and key not in self.joined:
            # Channels we are meant to be in: wait for the join. Others: just try.
            return key not in {irc.strings.lower(c) for c in self.channels}
        return True

    def _write(self, item: Delivery) -> None:
        assert self._conn is not None
        if item.confirm:
            self.confirmer.write(item)
        else:
            self._conn.privmsg(item.target, item.line)
            item.finish("sent", f"sent to {item.target}")
        log.debug("IRC sent to %s: %s", item.target, item.line)

    def _send_raw_strict(self, line: str) -> None:
        """Write one raw line; a failure raises (the line's delivery then fails)."""
        if self._conn is None or not self._conn.is_connected():
            raise ConnectionError("not connected")
        self._conn.send_raw(line)

    def _send_raw(self, line: str) -> None:
        if self._conn is not None:
            self._safe(self._conn.send_raw, line)

    # --- connection loop -----------------------------------------------------

    def _reset_connection_state(self) -> None:
        self.registered = False
        self.joined.clear()
        self.joins.new_connection()
        self._ping_sent = None
        self._server_error = None
        self._throttle = None
        self._down_reason = None
        self._slow_logged = False
        self._alt = alternate_nicks(self.wanted_nick)
        self.nick = self.wanted_nick

    async def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        while not self._stopping:
            self._reset_connection_state()
            self._lost.clear()
            self.port, tls = self.sts.target()  # an STS policy: TLS on its port, never plain
            log.info("IRC connecting to %s:%s%s as %s", self.host, self.port,
                     " (TLS)" if tls else "", self.wanted_nick)
            factory = make_factory(self._connect_factory, tls=tls,
                                   tls_verify=self.settings.irc_tls_verify,
                                   tls_cert=self.settings.irc_tls_cert,
                                   tls_key=self.settings.irc_tls_key,
                                   first_lines=["CAP LS 302"])
            self._cap.begin()
            if self._sasl:
                self._sasl.begin()
            conn.transport = None
            try:
                await asyncio.wait_for(
                    conn.connect(self.host, self.port, self.wanted_nick,
                                 password=self.settings.irc_password or None,
                                 username=self.username, ircname=self.realname,
                                 connect_factory=factory),
                    self.connect_timeout)
            except Exception as exc:  # any failure: retry later
                reason = str(exc) or type(exc).__name__
                self._set_error(f"connect to {self.host}:{self.port} failed: {reason}")
                log.warning("IRC %s", self.last_error)
                self.reconnects.record(Reason.CONNECT_FAILED)
                await self._sleep_backoff()
                continue
            self._last_rx = self._connected_at = self._clock()
            if conn.transport is None or conn.transport.is_closing():
                self._lost.set()  # closed before connect() returned: no event came
            watchdog = asyncio.create_task(self._watchdog(), name="irc-watchdog")
            try:
                await self._lost.wait()
            finally:
                watchdog.cancel()
                with contextlib.suppress(BaseException):
                    await watchdog
            self.sts.disconnected()  # a policy runs for its duration from the close
            if not self._stopping:
                if self._reconnect_now:
                    self._reconnect_now = False
                    log.info("IRC reconnecting at once")
                    continue
                await self._sleep_backoff()

    async def _sleep_backoff(self) -> None:
        delay = self.backoff.next_delay()
        log.info("IRC reconnecting in %.1f s (attempt %d)", delay, self.backoff.attempt)
        await asyncio.sleep(delay)

    async def _watchdog(self) -> None:
        """Client-side PING, dead-connection detection, nick reclaim and rejoin."""
        step = max(0.05, min(1.0, self.ping_interval / 4, self.live_ping_interval / 4,
                             self.nick_retry_interval / 2))
        last_nick_try = self._clock()
        while True:
            await asyncio.sleep(step)
            conn = self._conn
            if conn is None or not conn.is_connected():
                continue
            now = self._clock()
            idle = now - self._last_rx
            interval, timeout = self.ping_interval, self.ping_timeout
            if self._is_live():
                interval = min(interval, self.live_ping_interval)
                timeout = min(timeout, self.live_ping_timeout)
            if self._ping_sent is not None and now - self._ping_sent >= timeout:
                self._set_error(f"no data from the server for {idle:.0f} s (ping timeout)")
                log.warning("IRC %s; reconnecting", self.last_error)
                self._drop_link(f"IRC link lost — no data for {idle:.0f} s (ping timeout); "
                                "reconnecting", why=Reason.PING_TIMEOUT)
                continue
            if idle >= interval and self._ping_sent is None:
                self._keepalive()
            if not self.registered:
                if now - self._connected_at >= self.register_timeout:
                    self._set_error(f"not registered after {self.register_timeout:g} s")
                    log.warning("IRC %s; reconnecting", self.last_error)
                    self._down_reason = Reason.REGISTER_TIMEOUT
                    self._safe(conn.disconnect, "registration timeout")
                continue
            if self.nick != self.wanted_nick and now - last_nick_try >= self.nick_retry_interval:
                last_nick_try = now  # a ghost of ours may hold it until it pings out
                self._send_raw(f"NICK {self.wanted_nick}")
            for ch in self.joins.to_join(self.joined):
                self._join(ch)

    # --- events ------------------------------------------------------------

    def _dispatch(self, conn: Any, event: irc.client.Event) -> None:
        if conn is not self._conn:
            return
        if event.type == "all_raw_messages":
            self._last_rx = self._clock()
            self._ping_sent = None
            return
        try:
            if event.type == "pong":
                self.confirmer.on_pong(event)
                self._traffic()
            elif event.type in REFUSAL_TYPES:
                self.confirmer.on_refusal(event)
            elif event.type in ("pubmsg", "privmsg") and self._is_me(
                    getattr(event.source, "nick", None)):
                if self.confirmer.on_echo(event):
                    self._traffic()
                return
        except Exception:
            log.exception("IRC confirmation of %s failed", event.type)
        handler = getattr(self, "_on_" + event.type, None)
        if handler is None:
            return
        try:
            handler(event)
        except Exception:  # an escaping exception would drop the connection
            log.exception("IRC handler for %s failed", event.type)

    def _safe(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except Exception as exc:
            log.warning("IRC write failed: %s", exc)

    def _notify(self) -> None:
        st = self.status()
        for cb in list(self._listeners):
            try:
                cb(st)
            except Exception:
                log.exception("IRC status listener failed")

    def _set_error(self, text: str) -> None:
        self.last_error = text
        self._notify()

    def _traffic(self) -> None:
        """A PONG or a confirmed line: once joined, the link has recovered from an outage."""
        if self.registered and self.joined and not self.backoff.is_recovered:
            self.backoff.recovered()
            log.debug("IRC link carries traffic again; reconnect backoff starts over")

    def _keepalive(self, token: str = "ntrbot-k") -> None:
        """Our own PING: the server must answer it, so its silence then means a dead link."""
        if self._ping_sent is None:
            self._ping_seq += 1
            self._ping_sent = self._clock()
            self._send_raw(f"PING :{token}{self._ping_seq}")

    def _join(self, channel: str) -> None:
        self.joins.sent(channel)
        self._send_raw(self.joins.line(channel))  # may carry the key: never logged
