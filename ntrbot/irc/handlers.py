"""Reactions to server events: registration, channels, nick fallback, CAP and SASL, messages."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import irc.client
import irc.events
import irc.strings

from ntrbot.irc.backoff import Backoff
from ntrbot.irc.caps import CapNegotiator
from ntrbot.irc.command_runner import CommandRunner
from ntrbot.irc.ctcp import CtcpResponder
from ntrbot.irc.identify import NickServIdentify
from ntrbot.irc.joins import JoinPlan
from ntrbot.irc.link import LinkActions, LinkState
from ntrbot.irc.linkwatch import LinkWatch
from ntrbot.irc.reasons import Reason, ReconnectLog
from ntrbot.irc.replay import ReplayFilter
from ntrbot.irc.sasl import Sasl
from ntrbot.irc.sendqueue import SendQueue
from ntrbot.irc.sts import Sts, StsStore, policy_path
from ntrbot.settings import Settings

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


@dataclass
class Protocols:
    """The per-protocol helpers ServerEvents feeds (each keeps its own state)."""

    cap: CapNegotiator
    sasl: Sasl | None
    nickserv: NickServIdentify
    sts: Sts
    ctcp: CtcpResponder
    replay: ReplayFilter

    @classmethod
    def build(cls, settings: Settings, send_raw: Callable[[str], None],
              set_error: Callable[[str], None], *, may_send: Callable[[], bool],
              clock: Callable[[], float] = time.monotonic) -> Protocols:
        """The helpers for these settings; `may_send` is the flood budget CTCP answers
        share (none when it is spent: announces first)."""
        sasl: Sasl | None = Sasl(settings.irc_sasl_user, settings.irc_sasl_password,
                                 send_raw, set_error, mechanism=settings.irc_sasl_mechanism,
                                 has_cert=bool(settings.irc_tls_cert))
        if sasl is not None and not sasl.wanted:  # no mechanism is configured
            sasl = None
        assert settings.irc_server
        return cls(
            cap=CapNegotiator(send_raw, sasl=sasl), sasl=sasl,
            nickserv=NickServIdentify(settings.irc_sasl_user or settings.irc_nick,
                                      settings.irc_nickserv_password, send_raw),
            # IRCv3 STS: the port and the TLS flag follow it on every connect
            sts=Sts(settings.irc_server, settings.irc_port, settings.irc_tls,
                    verify=settings.irc_tls_verify,
                    store=StsStore(policy_path(settings.db_path))),
            ctcp=CtcpResponder(may_send=may_send, clock=clock), replay=ReplayFilter())


class ServerEvents:
    """One `_on_<event>` method per jaraco event type it cares about; `handle(event)` runs it.

    Handlers only change the LinkState and write small protocol lines, through `link`.
    """

    def __init__(self, settings: Settings, state: LinkState, link: LinkActions,
                 queue: SendQueue, joins: JoinPlan, watch: LinkWatch, protocols: Protocols,
                 commands: CommandRunner, backoff: Backoff, reconnects: ReconnectLog, *,
                 host: str, rejoin_delay: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.state = state
        self.link = link
        self.queue = queue
        self.joins = joins
        self.watch = watch
        self.p = protocols
        self.commands = commands
        self.backoff = backoff
        self.reconnects = reconnects
        self.host = host
        self.rejoin_delay = rejoin_delay
        self._clock = clock

    def handle(self, event: irc.client.Event) -> None:
        """Run the handler for `event`, if any; an escaping exception is only logged (it
        would drop the connection)."""
        handler = getattr(self, "_on_" + event.type, None)
        if handler is None:
            return
        try:
            handler(event)
        except Exception:
            log.exception("IRC handler for %s failed", event.type)

    def _on_welcome(self, event: irc.client.Event) -> None:
        self.state.registered = True
        if self.state.last_error and self.state.last_error.startswith(_LINK_ERRORS):
            self.state.last_error = None  # the link is back: an old link error is not news
        self.state.bot_mode = None
        self.p.replay.reset()
        self.p.replay.live(event.tags)
        self.p.cap.registered()
        self.state.nick = event.target or self.state.nick
        # no SASL configured, or not offered / refused: NickServ IDENTIFY, before the JOINs
        sasl = self.p.sasl
        self.p.nickserv.registered(sasl_done=sasl is not None and sasl.state == "done")
        self.backoff.connected()
        log.info("IRC connected to %s:%s as %s", self.host, self.state.port, self.state.nick)
        if self.state.nick != self.state.wanted_nick:
            log.warning("IRC nick %s is taken; using %s until it frees",
                        self.state.wanted_nick, self.state.nick)
            self._regain()
        for ch in self.joins.channels:  # the configured ones, refused or not
            self.link.join(ch)
        self.link.notify()
        self.queue.wake()

    def _on_featurelist(self, event: irc.client.Event) -> None:
        """RPL_ISUPPORT: with BOT=<letter>, mark ourselves as a bot (once per connection)."""
        for token in event.arguments[:-1]:
            name, _, value = token.partition("=")
            if name.upper() == "BOT" and len(value) == 1 and value.isalpha():
                if self.state.bot_mode is None:
                    self.state.bot_mode = value
                    log.info("IRC setting bot mode +%s", value)
                    self.link.send_raw(f"MODE {self.state.nick} +{value}")

    def _on_disconnect(self, event: irc.client.Event) -> None:
        reason = (event.arguments[0] if event.arguments else "") or self.state.server_error or ""
        self.state.registered = False
        self.state.joined.clear()
        self.p.cap.lost()
        self.backoff.disconnected()
        self.watch.link_down()
        if not self.state.stopping:
            why = self.state.down_reason or (
                Reason.THROTTLED if self.state.throttle is not None
                else Reason.ERROR if self.state.server_error else Reason.SERVER_CLOSED)
            self.reconnects.record(why)
            if why is Reason.THROTTLED:
                text = self.state.throttle or ""
                found = _THROTTLE_SECONDS.search(text)
                hold = self.backoff.throttled(float(found.group(1)) if found else None)
                self.state.last_error = f"server throttled the reconnect: {text}"
                log.warning("IRC server throttled the reconnect: %s (next attempt in %.0f s "
                            "or later)", text, hold)
            else:
                if why is Reason.SERVER_CLOSED or why is Reason.ERROR:
                    self.state.last_error = f"disconnected: {reason or 'connection closed'}"
                log.warning("IRC disconnected from %s:%s (%s; %s)", self.host, self.state.port,
                            reason or "connection closed", why.value)
        self.state.lost.set()
        self.link.notify()

    def _on_error(self, event: irc.client.Event) -> None:
        text = event.target or " ".join(event.arguments) or "ERROR"
        if _THROTTLE.search(text):
            self.state.throttle = text  # logged once, as a throttle, when the server closes
        else:
            log.warning("IRC server error: %s", text)
        self.state.server_error = f"server said: {text}"
        self.link.set_error(f"server: {text}")

    def _on_join(self, event: irc.client.Event) -> None:
        if not self.state.is_me(event.source.nick):
            return
        channel = event.target
        self.state.joined[irc.strings.lower(channel)] = channel
        if self.joins.joined(channel) and (self.state.last_error or "").startswith(
                f"cannot join {channel}:"):
            self.state.last_error = None  # the refusal is over
        if event.source.user and event.source.host:
            self.state.userhost = f"{event.source.user}@{event.source.host}"
        log.info("IRC joined %s", channel)
        self.watch.keepalive("ntrbot-up")  # its PONG: the link carries traffic (backoff resets)
        self.link.notify()
        self.queue.wake()

    def _on_part(self, event: irc.client.Event) -> None:
        if self.state.is_me(event.source.nick):
            self.state.joined.pop(irc.strings.lower(event.target), None)
            log.info("IRC left %s", event.target)
            self.link.notify()

    def _on_kick(self, event: irc.client.Event) -> None:
        kicked = event.arguments[0] if event.arguments else None
        if not self.state.is_me(kicked):
            return
        channel = event.target
        self.state.joined.pop(irc.strings.lower(channel), None)
        why = event.arguments[1] if len(event.arguments) > 1 else ""
        log.warning("IRC kicked from %s by %s (%s); rejoining in %.0f s", channel,
                    event.source.nick, why, self.rejoin_delay)
        self.link.set_error(f"kicked from {channel} by {event.source.nick}")
        if self.joins.wanted(channel):
            self.joins.hold(channel, self.rejoin_delay)
            asyncio.get_running_loop().call_later(self.rejoin_delay, self._rejoin, channel)

    def _rejoin(self, channel: str) -> None:
        if self.state.registered and self.joins.due(channel, self.state.joined):
            self.link.join(channel)

    def _join_failed(self, event: irc.client.Event) -> None:
        channel = event.arguments[0] if event.arguments else "?"
        text = event.arguments[1] if len(event.arguments) > 1 else event.type
        code = REFUSAL_CODES.get(event.type, event.type)
        # Announces waiting for this channel would wait in vain: the host is told now.
        self.queue.fail_target(channel, f"{code} cannot join {channel}: {text}",
                               key=irc.strings.lower)
        if not self.joins.wanted(channel):
            log.warning("IRC cannot join %s: %s", channel, text)
            self.link.set_error(f"cannot join {channel}: {text}")
            return
        refusal = self.joins.refused(channel, code, text)
        delay = refusal.retry_at - self._clock()
        log.warning("IRC cannot join %s; retrying in %.0f s", refusal.message, delay)
        self.link.set_error(f"cannot join {refusal.message}")
        asyncio.get_running_loop().call_later(delay, self._rejoin, channel)

    def _on_invite(self, event: irc.client.Event) -> None:
        channel = event.arguments[0] if event.arguments else ""
        if self.state.registered and self.joins.wanted(channel) and \
                irc.strings.lower(channel) not in self.state.joined:
            log.info("IRC invited to %s by %s; joining", channel, event.source.nick)
            self.link.join(channel)

    _on_inviteonlychan = _on_bannedfromchan = _on_badchannelkey = _join_failed
    _on_channelisfull = _on_nosuchchannel = _on_toomanychannels = _join_failed

    def _on_nick(self, event: irc.client.Event) -> None:
        old, new = event.source.nick, event.target
        if self.state.is_me(old):
            self.state.nick = new
            log.info("IRC nick is now %s", new)
            self.link.notify()
        elif irc.strings.lower(old) == irc.strings.lower(self.state.wanted_nick):
            self._reclaim()

    def _on_quit(self, event: irc.client.Event) -> None:
        if irc.strings.lower(event.source.nick) == irc.strings.lower(self.state.wanted_nick):
            self._reclaim()

    def _regain(self) -> None:
        """Our nick is taken (often by our own ghost after a dead link): ask NickServ to
        disconnect the ghost when we have a password for it; its QUIT then makes us take the
        nick back. Without one the watchdog retries NICK until the ghost pings out."""
        password = self.settings.irc_nickserv_password or self.settings.irc_sasl_password
        if password:
            log.info("IRC asking NickServ to release %s (GHOST)", self.state.wanted_nick)
            self.link.send_raw(f"PRIVMSG NickServ :GHOST {self.state.wanted_nick} {password}")

    def _reclaim(self) -> None:
        if self.state.registered and self.state.nick != self.state.wanted_nick:
            log.info("IRC nick %s is free again; taking it back", self.state.wanted_nick)
            self.link.send_raw(f"NICK {self.state.wanted_nick}")

    def _nick_unusable(self, event: irc.client.Event) -> None:
        if self.state.registered:
            return  # a reclaim attempt failed; keep the nick we have
        bad = event.arguments[0] if event.arguments else self.state.nick
        self.state.nick = next(self.state.alt)
        log.warning("IRC nick %s unavailable (%s); trying %s", bad, event.type, self.state.nick)
        self.link.send_raw(f"NICK {self.state.nick}")

    _on_nicknameinuse = _on_nickcollision = _on_unavailresource = _nick_unusable
    _on_erroneusnickname = _nick_unusable

    # --- capabilities and SASL ----------------------------------------------

    def _on_cap(self, event: irc.client.Event) -> None:
        self.p.cap.on_cap(list(event.arguments))
        if event.arguments and event.arguments[0].upper() in ("LS", "NEW") and \
                self.p.sts.on_caps(self.p.cap.offered) and not self.state.reconnect_now:
            self.state.reconnect_now = True  # STS: this plaintext link goes; TLS at once
            self.link.send_raw("QUIT :upgrading to TLS (STS)")

    def _on_invalidcapcmd(self, event: irc.client.Event) -> None:
        self.p.cap.invalid_command()

    def _on_authenticate(self, event: irc.client.Event) -> None:
        if self.p.sasl:
            self.p.sasl.on_authenticate(event.target or "")

    def _on_saslsuccess(self, event: irc.client.Event) -> None:
        if self.p.sasl:
            self.p.sasl.on_success()

    def _sasl_failed(self, event: irc.client.Event) -> None:
        if self.p.sasl:
            self.p.sasl.on_failure(event.arguments[-1] if event.arguments else event.type)

    def _on_saslmechs(self, event: irc.client.Event) -> None:
        if self.p.sasl and event.arguments:
            self.p.sasl.on_mechanisms([m for m in event.arguments[0].split(",") if m])

    _on_saslfail = _on_sasltoolong = _on_saslaborted = _on_nicklocked = _sasl_failed

    def _on_unknowncommand(self, event: irc.client.Event) -> None:
        if event.arguments:
            self.p.cap.unknown_command(event.arguments[0])
            if self.p.sasl:
                self.p.sasl.on_unknown_command(event.arguments[0])

    # --- commands ------------------------------------------------------------

    def _on_pubmsg(self, event: irc.client.Event) -> None:
        self.commands.on_message(event, reply_to=event.target)

    def _on_privmsg(self, event: irc.client.Event) -> None:
        self.commands.on_message(event, reply_to=event.source.nick)

    def _on_ctcp(self, event: irc.client.Event) -> None:
        """A CTCP request, to us or a channel: the answer is a NOTICE to the asker only.
        (An ACTION is a "ctcp" event too, then an "action" one: never a command.)"""
        if (not event.arguments or self.state.is_me(event.source.nick)
                or self.p.replay.reason(event.tags) is not None):
            return
        arg = event.arguments[1] if len(event.arguments) > 1 else ""
        line = self.p.ctcp.answer(event.source.nick, event.arguments[0], arg)
        if line:
            self.link.send_raw(line)

    def _on_privnotice(self, event: irc.client.Event) -> None:
        if event.arguments:
            self.p.nickserv.notice(getattr(event.source, "nick", None), event.arguments[0])

    def _on_batch(self, event: irc.client.Event) -> None:
        self.p.replay.batch(event.target or "", list(event.arguments), event.tags)
