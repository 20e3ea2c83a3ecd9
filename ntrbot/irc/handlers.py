"""Reactions to server events: registration, channels, nick fallback, SASL, commands."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import irc.client
import irc.events
import irc.strings

from ntrbot.irc.delivery import Delivery
from ntrbot.irc.flood import TokenBucket
from ntrbot.irc.reasons import Reason, ReconnectLog

if TYPE_CHECKING:
    from ntrbot.config import Settings
    from ntrbot.irc.backoff import Backoff
    from ntrbot.irc.caps import CapNegotiator
    from ntrbot.irc.commands import CommandHandler
    from ntrbot.irc.ctcp import CtcpResponder
    from ntrbot.irc.identify import NickServIdentify
    from ntrbot.irc.joins import JoinPlan
    from ntrbot.irc.replay import ReplayFilter
    from ntrbot.irc.sasl import Sasl
    from ntrbot.irc.sendqueue import SendQueue
    from ntrbot.irc.sts import Sts

log = logging.getLogger("ntrbot.irc")

#: last_error texts about the link itself, cleared once registered again
_LINK_ERRORS = ("IRC link lost", "not registered after", "connect to", "disconnected",
                "no data from the server", "server throttled")
#: ERROR texts of a server refusing a reconnect as too fast (ircd-hybrid, charybdis/solanum,
#: UnrealIRCd, InspIRCd ...): "Your host is trying to (re)connect too fast -- throttled."
_THROTTLE = re.compile(r"too fast|throttl", re.IGNORECASE)
_THROTTLE_SECONDS = re.compile(r"(\d+)\s*(?:s\b|sec|second)", re.IGNORECASE)
#: Numeric codes of the JOIN refusals, by jaraco event name.
REFUSAL_CODES = {name: code for code, name in irc.events.numeric.items() if code in {
    "403", "405", "471", "473", "474", "475", "477", "489"}}

COMMAND_REPLY_FRESH = 30.0
MAX_COMMAND_TASKS = 16
MAX_REPLY_LINES = 5
USER_COMMAND_BURST = 5
USER_COMMAND_RATE = 0.5  # commands per second per user, after the burst


def alternate_nicks(nick: str) -> Iterator[str]:
    """Fallback nicks: nick_, nick__, then short numbered ones (fit a 9-character limit)."""
    yield nick + "_"
    yield nick + "__"
    for i in itertools.count(1):
        yield f"{nick[:7]}{i}"


class ServerEvents:
    """Mixin for IrcClient: one `_on_<event>` method per jaraco event type it cares about.

    Handlers only change state and write small protocol lines; the dispatcher guards them.
    """

    # provided by IrcClient
    settings: Settings
    reconnects: ReconnectLog
    _throttle: str | None
    _down_reason: Reason | None
    host: str
    port: int
    wanted_nick: str
    nick: str
    channels: list[str]
    joined: dict[str, str]
    registered: bool
    userhost: str | None
    last_error: str | None
    rejoin_delay: float
    backoff: Backoff
    queue: SendQueue
    commands: CommandHandler | None
    _sasl: Sasl | None
    _cap: CapNegotiator
    _stopping: bool
    _reconnect_now: bool
    _server_error: str | None
    _lost: asyncio.Event
    _alt: Iterator[str]
    joins: JoinPlan
    ctcp: CtcpResponder
    nickserv: NickServIdentify
    sts: Sts
    _tasks: set[asyncio.Task[Any]]
    _command_tasks: int
    _user_buckets: dict[str, TokenBucket]
    _clock: Callable[[], float]
    bot_mode: str | None  # the BOT= user mode letter set on this connection
    _replay: ReplayFilter

    if TYPE_CHECKING:  # methods of IrcClient
        def _notify(self) -> None: ...
        def _link_down(self) -> None: ...
        def _set_error(self, text: str) -> None: ...
        def _send_raw(self, line: str) -> None: ...
        def _join(self, channel: str) -> None: ...
        def _fit(self, target: str, text: str) -> str: ...
        def _keepalive(self, token: str = ...) -> None: ...

    def _user_allowed(self, source: str) -> bool:
        """Per-user command limit, so that one user cannot hog the replies. Keyed by
        user@host, not the nick: a NICK change must not buy a fresh burst."""
        mask = irc.client.NickMask(source)
        who = irc.strings.lower(f"{mask.user}@{mask.host}" if mask.user and mask.host
                                else mask.nick)
        bucket = self._user_buckets.get(who)
        if bucket is None:
            if len(self._user_buckets) > 1000:  # forget the users whose burst is back
                for key in [k for k, b in self._user_buckets.items() if b.tokens >= b.burst]:
                    del self._user_buckets[key]
            if len(self._user_buckets) > 1000:
                self._user_buckets.clear()
            bucket = self._user_buckets[who] = TokenBucket(
                USER_COMMAND_BURST, USER_COMMAND_RATE, self._clock)
        return bucket.try_take()

    def _is_me(self, nick: str | None) -> bool:
        return nick is not None and irc.strings.lower(nick) == irc.strings.lower(self.nick)

    def _on_welcome(self, event: irc.client.Event) -> None:
        self.registered = True
        if self.last_error and self.last_error.startswith(_LINK_ERRORS):
            self.last_error = None  # the link is back: an old link error is not news
        self.bot_mode = None
        self._replay.reset()
        self._replay.live(event.tags)
        self._cap.registered()
        self.nick = event.target or self.nick
        # no SASL configured, or not offered / refused: NickServ IDENTIFY, before the JOINs
        self.nickserv.registered(sasl_done=self._sasl is not None and self._sasl.state == "done")
        self.backoff.connected()
        log.info("IRC connected to %s:%s as %s", self.host, self.port, self.nick)
        if self.nick != self.wanted_nick:
            log.warning("IRC nick %s is taken; using %s until it frees",
                        self.wanted_nick, self.nick)
            self._regain()
        for ch in self.channels:
            self._join(ch)
        self._notify()
        self.queue.wake()

    def _on_featurelist(self, event: irc.client.Event) -> None:
        """RPL_ISUPPORT: with BOT=<letter>, mark ourselves as a bot (once per connection)."""
        for token in event.arguments[:-1]:
            name, _, value = token.partition("=")
            if name.upper() == "BOT" and len(value) == 1 and value.isalpha():
                if self.bot_mode is None:
                    self.bot_mode = value
                    log.info("IRC setting bot mode +%s", value)
                    self._send_raw(f"MODE {self.nick} +{value}")

    def _on_disconnect(self, event: irc.client.Event) -> None:
        reason = (event.arguments[0] if event.arguments else "") or self._server_error or ""
        self.registered = False
        self.joined.clear()
        self._cap.lost()
        self.backoff.disconnected()
        self._link_down()
        if not self._stopping:
            why = self._down_reason or (
                Reason.THROTTLED if self._throttle is not None
                else Reason.ERROR if self._server_error else Reason.SERVER_CLOSED)
            self.reconnects.record(why)
            if why is Reason.THROTTLED:
                text = self._throttle or ""
                found = _THROTTLE_SECONDS.search(text)
                hold = self.backoff.throttled(float(found.group(1)) if found else None)
                self.last_error = f"server throttled the reconnect: {text}"
                log.warning("IRC server throttled the reconnect: %s (next attempt in %.0f s "
                            "or later)", text, hold)
            else:
                if why is Reason.SERVER_CLOSED or why is Reason.ERROR:
                    self.last_error = f"disconnected: {reason or 'connection closed'}"
                log.warning("IRC disconnected from %s:%s (%s; %s)", self.host, self.port,
                            reason or "connection closed", why.value)
        self._lost.set()
        self._notify()

    def _on_error(self, event: irc.client.Event) -> None:
        text = event.target or " ".join(event.arguments) or "ERROR"
        if _THROTTLE.search(text):
            self._throttle = text  # logged once, as a throttle, when the server closes
        else:
            log.warning("IRC server error: %s", text)
        self._server_error = f"server said: {text}"
        self._set_error(f"server: {text}")

    def _on_join(self, event: irc.client.Event) -> None:
        if not self._is_me(event.source.nick):
            return
        channel = event.target
        self.joined[irc.strings.lower(channel)] = channel
        if self.joins.joined(channel) and (self.last_error or "").startswith(
                f"cannot join {channel}:"):
            self.last_error = None  # the refusal is over
        if event.source.user and event.source.host:
            self.userhost = f"{event.source.user}@{event.source.host}"
        log.info("IRC joined %s", channel)
        self._keepalive("ntrbot-up")  # its PONG: the link carries traffic (backoff resets)
        self._notify()
        self.queue.wake()

    def _on_part(self, event: irc.client.Event) -> None:
        if self._is_me(event.source.nick):
            self.joined.pop(irc.strings.lower(event.target), None)
            log.info("IRC left %s", event.target)
            self._notify()

    def _on_kick(self, event: irc.client.Event) -> None:
        kicked = event.arguments[0] if event.arguments else None
        if not self._is_me(kicked):
            return
        channel = event.target
        self.joined.pop(irc.strings.lower(channel), None)
        why = event.arguments[1] if len(event.arguments) > 1 else ""
        log.warning("IRC kicked from %s by %s (%s); rejoining in %.0f s", channel,
                    event.source.nick, why, self.rejoin_delay)
        self._set_error(f"kicked from {channel} by {event.source.nick}")
        if irc.strings.lower(channel) in {irc.strings.lower(c) for c in self.channels}:
            self.joins.hold(channel, self.rejoin_delay)
            asyncio.get_running_loop().call_later(self.rejoin_delay, self._rejoin, channel)

    def _rejoin(self, channel: str) -> None:
        if self.registered and self.joins.due(channel, self.joined):
            self._join(channel)

    def _join_failed(self, event: irc.client.Event) -> None:
        channel = event.arguments[0] if event.arguments else "?"
        text = event.arguments[1] if len(event.arguments) > 1 else event.type
        code = REFUSAL_CODES.get(event.type, event.type)
        # Announces waiting for this channel would wait in vain: the host is told now.
        self.queue.fail_target(channel, f"{code} cannot join {channel}: {text}",
                               key=irc.strings.lower)
        if not self.joins.wanted(channel):
            log.warning("IRC cannot join %s: %s", channel, text)
            self._set_error(f"cannot join {channel}: {text}")
            return
        refusal = self.joins.refused(channel, code, text)
        delay = refusal.retry_at - self._clock()
        log.warning("IRC cannot join %s; retrying in %.0f s", refusal.message, delay)
        self._set_error(f"cannot join {refusal.message}")
        asyncio.get_running_loop().call_later(delay, self._rejoin, channel)

    def _on_invite(self, event: irc.client.Event) -> None:
        channel = event.arguments[0] if event.arguments else ""
        if self.registered and self.joins.wanted(channel) and \
                irc.strings.lower(channel) not in self.joined:
            log.info("IRC invited to %s by %s; joining", channel, event.source.nick)
            self._join(channel)

    _on_inviteonlychan = _on_bannedfromchan = _on_badchannelkey = _join_failed
    _on_channelisfull = _on_nosuchchannel = _on_toomanychannels = _join_failed

    def _on_nick(self, event: irc.client.Event) -> None:
        old, new = event.source.nick, event.target
        if self._is_me(old):
            self.nick = new
            log.info("IRC nick is now %s", new)
            self._notify()
        elif irc.strings.lower(old) == irc.strings.lower(self.wanted_nick):
            self._reclaim()

    def _on_quit(self, event: irc.client.Event) -> None:
        if irc.strings.lower(event.source.nick) == irc.strings.lower(self.wanted_nick):
            self._reclaim()

    def _regain(self) -> None:
        """Our nick is taken (often by our own ghost after a dead link): ask NickServ to
        disconnect the ghost when we have a password for it; its QUIT then makes us take the
        nick back. Without one the watchdog retries NICK until the ghost pings out."""
        password = self.settings.irc_nickserv_password or self.settings.irc_sasl_password
        if password:
            log.info("IRC asking NickServ to release %s (GHOST)", self.wanted_nick)
            self._send_raw(f"PRIVMSG NickServ :GHOST {self.wanted_nick} {password}")

    def _reclaim(self) -> None:
        if self.registered and self.nick != self.wanted_nick:
            log.info("IRC nick %s is free again; taking it back", self.wanted_nick)
            self._send_raw(f"NICK {self.wanted_nick}")

    def _nick_unusable(self, event: irc.client.Event) -> None:
        if self.registered:
            return  # a reclaim attempt failed; keep the nick we have
        bad = event.arguments[0] if event.arguments else self.nick
        self.nick = next(self._alt)
        log.warning("IRC nick %s unavailable (%s); trying %s", bad, event.type, self.nick)
        self._send_raw(f"NICK {self.nick}")

    _on_nicknameinuse = _on_nickcollision = _on_unavailresource = _nick_unusable
    _on_erroneusnickname = _nick_unusable

    # --- capabilities and SASL ----------------------------------------------

    @property
    def caps(self) -> frozenset[str]:
        """Capabilities enabled on the current connection (lowercase names)."""
        return frozenset(self._cap.enabled)

    def _on_cap(self, event: irc.client.Event) -> None:
        self._cap.on_cap(list(event.arguments))
        if event.arguments and event.arguments[0].upper() in ("LS", "NEW") and \
                self.sts.on_caps(self._cap.offered) and not self._reconnect_now:
            self._reconnect_now = True  # STS: this plaintext link goes; TLS at once
            self._send_raw("QUIT :upgrading to TLS (STS)")

    def _on_invalidcapcmd(self, event: irc.client.Event) -> None:
        self._cap.invalid_command()

    def _on_authenticate(self, event: irc.client.Event) -> None:
        if self._sasl:
            self._sasl.on_authenticate(event.target or "")

    def _on_saslsuccess(self, event: irc.client.Event) -> None:
        if self._sasl:
            self._sasl.on_success()

    def _sasl_failed(self, event: irc.client.Event) -> None:
        if self._sasl:
            self._sasl.on_failure(event.arguments[-1] if event.arguments else event.type)

    def _on_saslmechs(self, event: irc.client.Event) -> None:
        if self._sasl and event.arguments:
            self._sasl.on_mechanisms([m for m in event.arguments[0].split(",") if m])

    _on_saslfail = _on_sasltoolong = _on_saslaborted = _on_nicklocked = _sasl_failed

    def _on_unknowncommand(self, event: irc.client.Event) -> None:
        if event.arguments:
            self._cap.unknown_command(event.arguments[0])
            if self._sasl:
                self._sasl.on_unknown_command(event.arguments[0])

    # --- commands ------------------------------------------------------------

    def _on_pubmsg(self, event: irc.client.Event) -> None:
        self._command(event, reply_to=event.target)

    def _on_privmsg(self, event: irc.client.Event) -> None:
        self._command(event, reply_to=event.source.nick)

    def _on_ctcp(self, event: irc.client.Event) -> None:
        """A CTCP request, to us or a channel: the answer is a NOTICE to the asker only.
        (An ACTION is a "ctcp" event too, then an "action" one: never a command.)"""
        if (not event.arguments or self._is_me(event.source.nick)
                or self._replay.reason(event.tags) is not None):
            return
        arg = event.arguments[1] if len(event.arguments) > 1 else ""
        line = self.ctcp.answer(event.source.nick, event.arguments[0], arg)
        if line:
            self._send_raw(line)

    def _on_privnotice(self, event: irc.client.Event) -> None:
        if event.arguments:
            self.nickserv.notice(getattr(event.source, "nick", None), event.arguments[0])

    def _on_batch(self, event: irc.client.Event) -> None:
        self._replay.batch(event.target or "", list(event.arguments), event.tags)

    def _command(self, event: irc.client.Event, reply_to: str) -> None:
        if self.commands is None or not event.arguments or self._is_me(event.source.nick):
            return
        text = event.arguments[0]
        if not text.startswith(self.commands.prefix):
            return
        why = self._replay.reason(event.tags)
        if why is not None:
            log.info("IRC not answering a replayed command from %s (%s)", event.source, why)
            return
        if not self._user_allowed(str(event.source)):
            log.info("IRC ignoring a command from %s: too many too fast", event.source)
            return
        if self._command_tasks >= MAX_COMMAND_TASKS:
            log.warning("IRC too many commands in flight; ignoring one from %s", event.source)
            return
        self._command_tasks += 1
        task = asyncio.create_task(
            self._run_command(str(event.source), event.target, text, reply_to))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_command(self, source: str, target: str, text: str, reply_to: str) -> None:
        assert self.commands is not None
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
                self.queue.put(Delivery(reply_to, line, fresh_for=COMMAND_REPLY_FRESH,
                                        clock=self._clock))


