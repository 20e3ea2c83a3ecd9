"""IRC transport on jaraco `irc` (asyncio): connect, register, stay up, send safely."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import irc.client
import irc.client_aio
import irc.connection
import jaraco.stream.buffer

from ntrbot.config import Settings
from ntrbot.irc.backoff import Backoff
from ntrbot.irc.commands import CommandHandler
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.hostmask import irc_lower
from ntrbot.irc.lines import safe_line

log = logging.getLogger("ntrbot.irc")

Status = Literal["sent", "queued", "failed"]
COMMAND_REPLY_FRESH = 30.0
MAX_REPLY_QUEUE = 40
MAX_COMMAND_TASKS = 16
MAX_REPLY_LINES = 5


@dataclass
class Delivery:
    """What became of one say(): the state at return time and a future for the end state."""

    status: Status
    detail: str
    line: str
    outcome: asyncio.Future[str] = field(repr=False)


def _done_future(value: str) -> asyncio.Future[str]:
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


@dataclass
class _Item:
    target: str
    line: str
    outcome: asyncio.Future[str]
    priority: bool
    expiry: asyncio.TimerHandle | None = None


def is_channel(name: str) -> bool:
    return name[:1] in "#&+!"


def alternate_nicks(nick: str) -> Iterator[str]:
    """Fallback nicks: nick_, nick__, then short numbered ones (fit a 9-character limit)."""
    yield nick + "_"
    yield nick + "__"
    for i in itertools.count(1):
        yield f"{nick[:7]}{i}"


class _Protocol(irc.client_aio.IrcProtocol):
    """Ignores callbacks from an old transport once the connection object moved on."""

    transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
        self.transport = transport

    def _current(self) -> bool:
        current = self.connection.transport
        return current is None or current is self.transport

    def data_received(self, data: bytes) -> None:
        if self._current():
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._current():
            super().connection_lost(exc)


class _Connection(irc.client_aio.AioConnection):
    protocol_class = _Protocol
    buffer_class = jaraco.stream.buffer.LenientDecodingLineBuffer
    transport: Any = None


class _Reactor(irc.client_aio.AioReactor):
    connection_class = _Connection


class IrcClient:
    """One IRC connection for the whole process; reconnects until stop()."""

    def __init__(self, settings: Settings, commands: CommandHandler | None = None, *,
                 connect_factory: Callable[..., Any] | None = None,
                 backoff: Backoff | None = None,
                 ping_interval: float = 90.0, ping_timeout: float = 60.0,
                 connect_timeout: float = 30.0, nick_retry_interval: float = 60.0,
                 rejoin_delay: float = 5.0, say_wait: float = 2.0,
                 username: str = "ntrbot", realname: str = "ntrbot NtR playlist bot",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not settings.irc_server:
            raise ValueError("IrcClient needs settings.irc_server")
        self.settings = settings
        self.commands = commands
        self.host = settings.irc_server
        self.port = settings.irc_port
        self.wanted_nick = settings.irc_nick
        chans: dict[str, str] = {}
        for ch in (*settings.irc_channels, settings.announce_channel):
            chans.setdefault(irc_lower(ch), ch)
        self.channels = list(chans.values())
        self._connect_factory = connect_factory
        self.backoff = backoff or Backoff()
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.nick_retry_interval = nick_retry_interval
        self.rejoin_delay = rejoin_delay
        self.say_wait = say_wait
        self.username = username
        self.realname = realname
        self._clock = clock
        self._bucket = TokenBucket(settings.irc_flood_burst, settings.irc_flood_rate, clock)

        self._reactor: _Reactor | None = None
        self._conn: _Connection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._stopping = False
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._prio: deque[_Item] = deque()
        self._normal: deque[_Item] = deque()
        self._command_tasks = 0
        # per-connection state
        self.registered = False
        self.nick = self.wanted_nick
        self.userhost: str | None = None
        self.joined: dict[str, str] = {}  # irc_lower(name) -> name
        self.last_error: str | None = None
        self._last_rx = 0.0
        self._ping_sent: float | None = None
        self._alt: Iterator[str] = alternate_nicks(self.wanted_nick)
        self._join_sent: dict[str, float] = {}
        self._cap_ls: list[str] = []
        self._sasl_state = "off"

    # --- public interface --------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._main is not None:
            return
        loop = asyncio.get_running_loop()
        self._reactor = _Reactor(loop=loop)
        self._reactor.add_global_handler("all_events", self._dispatch, 0)
        self._conn = self._reactor.server()  # type: ignore[assignment]
        self._main = asyncio.create_task(self._run(), name="irc-connect")
        self._sender = asyncio.create_task(self._send_loop(), name="irc-send")

    async def stop(self, message: str = "ntrbot shutting down") -> None:
        """Send QUIT, stop every task, resolve queued lines as failed."""
        self._stopping = True
        conn = self._conn
        if conn is not None and conn.is_connected():
            log.info("IRC quitting: %s", message)
            with contextlib.suppress(Exception):
                conn.disconnect(safe_line(message, nick=self.nick, target="*"))
        for task in [self._main, self._sender, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._main, self._sender, *self._tasks]:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        self._main = self._sender = None
        for q in (self._prio, self._normal):
            while q:
                self._finish(q.popleft(), "failed")

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None) -> Delivery:
        """Send one line to `target` (sanitized, fitted); see Delivery for the result."""
        line = self._fit(target, text)
        if not line:
            return Delivery("failed", "nothing to send after removing control characters",
                            line, _done_future("failed"))
        if self._stopping or self._main is None:
            return Delivery("failed", "IRC client is not running", line, _done_future("failed"))
        fresh = self.settings.announce_fresh_seconds if fresh_for is None else fresh_for
        item = self._enqueue(target, line, priority, fresh)
        if item is None:
            return Delivery("failed", "send queue full", line, _done_future("failed"))
        if self._ready_for(target):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(item.outcome), self.say_wait)
            if item.outcome.done():
                result = item.outcome.result()
                if result == "sent":
                    return Delivery("sent", f"sent to {target}", line, item.outcome)
                return Delivery("failed", f"could not send to {target}", line, item.outcome)
            detail = f"queued behind the flood limit for {target}"
        elif not self.registered:
            detail = (f"IRC disconnected; will send on reconnect if within {fresh:g} s")
        else:
            detail = f"not in {target} yet; will send after joining if within {fresh:g} s"
        return Delivery("queued", detail, line, item.outcome)

    def status(self) -> dict[str, Any]:
        """JSON-able connection state for /health and the dashboard."""
        return {
            "enabled": True,
            "connected": self.registered,
            "server": f"{self.host}:{self.port}",
            "tls": self.settings.irc_tls,
            "nick": self.nick,
            "channels": sorted(self.joined.values()),
            "last_error": self.last_error,
            "queued": len(self._prio) + len(self._normal),
        }

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        """`cb(status())` is called on connect, disconnect, join, part and error."""
        self._listeners.append(cb)

    # --- queue -------------------------------------------------------------

    def _fit(self, target: str, text: str) -> str:
        # The nick may still change (alternate nick); budget for the longer one.
        nick = max(self.nick, self.wanted_nick + "__", key=len)
        return safe_line(text, nick=nick, target=target, userhost=self.userhost)

    def _enqueue(self, target: str, line: str, priority: bool, fresh: float) -> _Item | None:
        loop = asyncio.get_running_loop()
        if not priority and len(self._normal) >= MAX_REPLY_QUEUE:
            log.warning("IRC reply queue full; dropping a line to %s", target)
            return None
        item = _Item(target, line, loop.create_future(), priority)
        item.expiry = loop.call_later(max(0.0, fresh), self._expire, item)
        (self._prio if priority else self._normal).append(item)
        self._wake.set()
        return item

    def _expire(self, item: _Item) -> None:
        for q in (self._prio, self._normal):
            with contextlib.suppress(ValueError):
                q.remove(item)
        if not item.outcome.done():
            log.warning("IRC line to %s expired unsent: %.80s", item.target, item.line)
        self._finish(item, "expired")

    @staticmethod
    def _finish(item: _Item, result: str) -> None:
        if item.expiry is not None:
            item.expiry.cancel()
        if not item.outcome.done():
            item.outcome.set_result(result)

    def _ready_for(self, target: str) -> bool:
        if not self.registered or self._conn is None or not self._conn.is_connected():
            return False
        key = irc_lower(target)
        if is_channel(target) and key not in self.joined:
            # Channels we are meant to be in: wait for the join. Others: just try.
            return key not in {irc_lower(c) for c in self.channels}
        return True

    def _next_ready(self) -> _Item | None:
        for q in (self._prio, self._normal):
            for item in q:
                if self._ready_for(item.target):
                    return item
        return None

    async def _send_loop(self) -> None:
        while True:
            item = self._next_ready()
            if item is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self._bucket.delay()
            if delay > 0:
                # Wake early on new items so a fresh announce can jump ahead.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            self._bucket.try_take()
            (self._prio if item.priority else self._normal).remove(item)
            try:
                assert self._conn is not None
                self._conn.privmsg(item.target, item.line)
            except Exception as exc:  # never let the sender die
                log.warning("IRC send to %s failed: %s", item.target, exc)
                self._finish(item, "failed")
                continue
            log.debug("IRC sent to %s: %s", item.target, item.line)
            self._finish(item, "sent")

    # --- connection loop -----------------------------------------------------

    def _factory(self) -> Callable[..., Any]:
        inner = self._connect_factory
        if inner is None:
            ctx = None
            if self.settings.irc_tls:
                ctx = ssl.create_default_context()
                if not self.settings.irc_tls_verify:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
            inner = irc.connection.AioFactory(ssl=ctx) if ctx else irc.connection.AioFactory()
        want_sasl = bool(self.settings.irc_sasl_user and self.settings.irc_sasl_password)

        async def factory(protocol: Any, address: Any) -> Any:
            transport, proto = await inner(protocol, address)
            if want_sasl:
                # Must precede NICK/USER, which connect() sends right after this returns.
                transport.write(b"CAP LS 302\r\n")
            return transport, proto

        return factory

    def _reset_connection_state(self) -> None:
        self.registered = False
        self.joined.clear()
        self._join_sent.clear()
        self._ping_sent = None
        self._cap_ls = []
        self._sasl_state = "off"
        self._alt = alternate_nicks(self.wanted_nick)
        self.nick = self.wanted_nick

    async def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        while not self._stopping:
            self._reset_connection_state()
            self._lost.clear()
            log.info("IRC connecting to %s:%s%s as %s", self.host, self.port,
                     " (TLS)" if self.settings.irc_tls else "", self.wanted_nick)
            conn.transport = None
            try:
                await asyncio.wait_for(
                    conn.connect(self.host, self.port, self.wanted_nick,
                                 password=self.settings.irc_password or None,
                                 username=self.username, ircname=self.realname,
                                 connect_factory=self._factory()),
                    self.connect_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: retry later
                reason = str(exc) or type(exc).__name__
                self._set_error(f"connect to {self.host}:{self.port} failed: {reason}")
                log.warning("IRC %s", self.last_error)
                await self._sleep_backoff()
                continue
            self._last_rx = self._clock()
            if self.settings.irc_sasl_user and self.settings.irc_sasl_password:
                self._sasl_state = "cap"
            watchdog = asyncio.create_task(self._watchdog(), name="irc-watchdog")
            try:
                await self._lost.wait()
            finally:
                watchdog.cancel()
                with contextlib.suppress(BaseException):
                    await watchdog
            if not self._stopping:
                await self._sleep_backoff()

    async def _sleep_backoff(self) -> None:
        delay = self.backoff.next_delay()
        log.info("IRC reconnecting in %.1f s", delay)
        await asyncio.sleep(delay)

    async def _watchdog(self) -> None:
        """Client-side PING, dead-connection detection, nick reclaim and rejoin."""
        step = max(0.05, min(1.0, self.ping_interval / 4))
        last_nick_try = self._clock()
        while True:
            await asyncio.sleep(step)
            conn = self._conn
            if conn is None or not conn.is_connected():
                continue
            now = self._clock()
            idle = now - self._last_rx
            if idle >= self.ping_interval + self.ping_timeout:
                self._set_error(f"no data from server for {idle:.0f} s (ping timeout)")
                log.warning("IRC %s; reconnecting", self.last_error)
                self._safe(conn.disconnect, "ping timeout")
                continue
            if idle >= self.ping_interval and self._ping_sent is None:
                self._ping_sent = now
                self._safe(conn.send_raw, f"PING :ntrbot-{int(now)}")
            if not self.registered:
                continue
            if (self.nick != self.wanted_nick
                    and now - last_nick_try >= self.nick_retry_interval):
                last_nick_try = now
                self._safe(conn.nick, self.wanted_nick)
            for ch in self.channels:
                key = irc_lower(ch)
                sent = self._join_sent.get(key)
                if key not in self.joined and (sent is None or now - sent >= 60.0):
                    self._join(ch)

    # --- events ------------------------------------------------------------

    def _dispatch(self, conn: Any, event: irc.client.Event) -> None:
        if conn is not self._conn:
            return
        if event.type == "all_raw_messages":
            self._last_rx = self._clock()
            self._ping_sent = None
            return
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

    def _is_me(self, nick: str | None) -> bool:
        return nick is not None and irc_lower(nick) == irc_lower(self.nick)

    def _join(self, channel: str) -> None:
        assert self._conn is not None
        self._join_sent[irc_lower(channel)] = self._clock()
        self._safe(self._conn.join, channel)

    def _on_welcome(self, event: irc.client.Event) -> None:
        self.registered = True
        self.nick = event.target or self.nick
        self.backoff.connected()
        log.info("IRC connected to %s:%s as %s", self.host, self.port, self.nick)
        if self.nick != self.wanted_nick:
            log.warning("IRC nick %s is taken; using %s until it frees", self.wanted_nick,
                        self.nick)
        for ch in self.channels:
            self._join(ch)
        self._notify()
        self._wake.set()

    def _on_disconnect(self, event: irc.client.Event) -> None:
        reason = event.arguments[0] if event.arguments else ""
        was = self.registered
        self.registered = False
        self.joined.clear()
        self.backoff.disconnected()
        if not self._stopping:
            if reason and reason != "ping timeout":
                self.last_error = f"disconnected: {reason}"
            elif not reason and was:
                self.last_error = "disconnected: connection closed"
            log.warning("IRC disconnected from %s:%s (%s)", self.host, self.port,
                        reason or "connection closed")
        self._lost.set()
        self._notify()

    def _on_error(self, event: irc.client.Event) -> None:
        text = event.target or " ".join(event.arguments) or "ERROR"
        log.warning("IRC server error: %s", text)
        self._set_error(f"server: {text}")

    def _on_join(self, event: irc.client.Event) -> None:
        if not self._is_me(event.source.nick):
            return
        channel = event.target
        self.joined[irc_lower(channel)] = channel
        if event.source.user and event.source.host:
            self.userhost = f"{event.source.user}@{event.source.host}"
        log.info("IRC joined %s", channel)
        self._notify()
        self._wake.set()

    def _on_part(self, event: irc.client.Event) -> None:
        if self._is_me(event.source.nick):
            self.joined.pop(irc_lower(event.target), None)
            log.info("IRC left %s", event.target)
            self._notify()

    def _on_kick(self, event: irc.client.Event) -> None:
        kicked = event.arguments[0] if event.arguments else None
        if not self._is_me(kicked):
            return
        channel = event.target
        self.joined.pop(irc_lower(channel), None)
        why = event.arguments[1] if len(event.arguments) > 1 else ""
        log.warning("IRC kicked from %s by %s (%s); rejoining in %.0f s", channel,
                    event.source.nick, why, self.rejoin_delay)
        self._set_error(f"kicked from {channel} by {event.source.nick}")
        if any(irc_lower(c) == irc_lower(channel) for c in self.channels):
            self._join_sent[irc_lower(channel)] = self._clock()
            loop = asyncio.get_running_loop()
            loop.call_later(self.rejoin_delay, self._rejoin, channel)

    def _rejoin(self, channel: str) -> None:
        if self.registered and irc_lower(channel) not in self.joined:
            self._join(channel)

    def _join_failed(self, event: irc.client.Event) -> None:
        channel = event.arguments[0] if event.arguments else "?"
        text = event.arguments[1] if len(event.arguments) > 1 else event.type
        log.warning("IRC cannot join %s: %s (retrying every minute)", channel, text)
        self._set_error(f"cannot join {channel}: {text}")

    _on_inviteonlychan = _on_bannedfromchan = _on_badchannelkey = _join_failed
    _on_channelisfull = _join_failed

    def _on_nick(self, event: irc.client.Event) -> None:
        old, new = event.source.nick, event.target
        if self._is_me(old):
            self.nick = new
            log.info("IRC nick is now %s", new)
            self._notify()
        elif irc_lower(old) == irc_lower(self.wanted_nick):
            self._reclaim()

    def _on_quit(self, event: irc.client.Event) -> None:
        if irc_lower(event.source.nick) == irc_lower(self.wanted_nick):
            self._reclaim()

    def _reclaim(self) -> None:
        if self.registered and self.nick != self.wanted_nick and self._conn is not None:
            log.info("IRC nick %s is free again; taking it back", self.wanted_nick)
            self._safe(self._conn.nick, self.wanted_nick)

    def _nick_unusable(self, event: irc.client.Event) -> None:
        if self.registered:
            return  # a reclaim attempt failed; keep the nick we have
        bad = event.arguments[0] if event.arguments else self.nick
        self.nick = next(self._alt)
        log.warning("IRC nick %s unavailable (%s); trying %s", bad, event.type, self.nick)
        assert self._conn is not None
        self._safe(self._conn.nick, self.nick)

    _on_nicknameinuse = _on_nickcollision = _on_unavailresource = _nick_unusable
    _on_erroneusnickname = _nick_unusable

    # --- SASL (CAP negotiation) ---------------------------------------------

    def _sasl_abort(self, why: str) -> None:
        log.error("IRC SASL login as %s FAILED: %s; continuing without it",
                  self.settings.irc_sasl_user, why)
        self._sasl_state = "failed"
        self._set_error(f"SASL failed: {why}")
        assert self._conn is not None
        self._safe(self._conn.send_raw, "CAP END")

    def _on_cap(self, event: irc.client.Event) -> None:
        if self._sasl_state == "off":
            return
        args = list(event.arguments)
        if not args:
            return
        sub = args[0].upper()
        if sub == "LS":
            more = len(args) > 2 and args[1] == "*"
            self._cap_ls.extend(args[-1].split())
            if more:
                return
            names = {c.split("=", 1)[0] for c in self._cap_ls}
            if "sasl" in names:
                self._sasl_state = "req"
                self._safe(self._conn.send_raw, "CAP REQ :sasl")  # type: ignore[union-attr]
            else:
                self._sasl_abort("the server does not offer SASL")
        elif sub == "ACK" and "sasl" in args[-1].split():
            self._sasl_state = "auth"
            self._safe(self._conn.send_raw, "AUTHENTICATE PLAIN")  # type: ignore[union-attr]
        elif sub == "NAK":
            self._sasl_abort("the server refused the sasl capability")

    def _on_authenticate(self, event: irc.client.Event) -> None:
        if self._sasl_state != "auth" or event.target != "+":
            return
        user = self.settings.irc_sasl_user or ""
        secret = self.settings.irc_sasl_password or ""
        blob = base64.b64encode(f"{user}\0{user}\0{secret}".encode()).decode("ascii")
        assert self._conn is not None
        for i in range(0, len(blob), 400):
            self._safe(self._conn.send_raw, "AUTHENTICATE " + blob[i:i + 400])
        if len(blob) % 400 == 0:
            self._safe(self._conn.send_raw, "AUTHENTICATE +")
        self._sasl_state = "sent"

    def _on_saslsuccess(self, event: irc.client.Event) -> None:
        if self._sasl_state in ("off", "failed"):
            return
        log.info("IRC SASL login as %s succeeded", self.settings.irc_sasl_user)
        self._sasl_state = "done"
        assert self._conn is not None
        self._safe(self._conn.send_raw, "CAP END")

    def _sasl_failed(self, event: irc.client.Event) -> None:
        if self._sasl_state in ("off", "failed", "done"):
            return
        self._sasl_abort(event.arguments[-1] if event.arguments else event.type)

    _on_saslfail = _on_sasltoolong = _on_saslaborted = _on_nicklocked = _sasl_failed

    def _on_unknowncommand(self, event: irc.client.Event) -> None:
        if event.arguments and event.arguments[0].upper() in ("CAP", "AUTHENTICATE"):
            if self._sasl_state not in ("off", "failed", "done"):
                self._sasl_abort("the server does not support CAP/SASL")

    # --- commands ------------------------------------------------------------

    def _on_pubmsg(self, event: irc.client.Event) -> None:
        self._command(event, reply_to=event.target)

    def _on_privmsg(self, event: irc.client.Event) -> None:
        self._command(event, reply_to=event.source.nick)

    def _command(self, event: irc.client.Event, reply_to: str) -> None:
        if self.commands is None or not event.arguments or self._is_me(event.source.nick):
            return
        text = event.arguments[0]
        if not text.startswith(self.commands.prefix):
            return
        if self._command_tasks >= MAX_COMMAND_TASKS:
            log.warning("IRC too many commands in flight; ignoring one from %s", event.source)
            return
        task = asyncio.create_task(
            self._run_command(str(event.source), event.target, text, reply_to))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_command(self, source: str, target: str, text: str, reply_to: str) -> None:
        assert self.commands is not None
        self._command_tasks += 1
        try:
            replies = await asyncio.wait_for(self.commands.handle(source, target, text), 60)
        except Exception:
            log.exception("IRC command %.60r from %s failed", text, source)
            replies = ["Sorry, that failed; try again later."]
        finally:
            self._command_tasks -= 1
        for reply in replies[:MAX_REPLY_LINES]:
            line = self._fit(reply_to, reply)
            if line:
                self._enqueue(reply_to, line, False, COMMAND_REPLY_FRESH)


class DisabledIrc:
    """Stands in for IrcClient when NTR_IRC_SERVER is unset."""

    def __init__(self, settings: Settings | None = None, *args: Any, **kwargs: Any) -> None:
        self.settings = settings

    async def start(self) -> None:
        return None

    async def stop(self, message: str = "ntrbot shutting down") -> None:
        return None

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None) -> Delivery:
        from ntrbot.irc.lines import clean

        return Delivery("failed", "IRC is off", clean(text), _done_future("failed"))

    def status(self) -> dict[str, Any]:
        return {"enabled": False, "connected": False, "server": None, "nick": None,
                "channels": [], "last_error": None, "queued": 0}

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        return None
