"""Limnoria plugin: relay ntrbot's live announcements and answer NtR playlist commands."""

from __future__ import annotations

from typing import Any

from supybot import callbacks, ircmsgs, ircutils, utils, world
from supybot.commands import wrap
from supybot.irclib import MAX_LINE_SIZE

from .ntrclient import (
    AnnounceListener,
    RelayFailed,
    fit_line,
    reply_lastshow,
    reply_np,
    reply_playlist,
    reply_song,
)

HOSTLEN = 63  # what a host may take in our prefix before the server told us ours


def line_room(irc: Any, channel: str) -> int:
    """Bytes of text that fit in one PRIVMSG as the server relays it, with our prefix.

    Like Limnoria's own reply length check: MAX_LINE_SIZE (512, CR LF included) minus
    ``:nick!user@host PRIVMSG <channel> :``; a host not known yet counts as 63 bytes.
    """
    prefix = irc.prefix
    if not ircutils.isUserHostmask(prefix) or prefix.endswith("@unset.domain"):
        prefix = f"{irc.nick}!~{irc.ident}@{'h' * HOSTLEN}"
    overhead = len(f":{prefix} PRIVMSG {channel} :\r\n".encode())
    return MAX_LINE_SIZE - overhead


def _word_cut(text: str, size: int) -> str:
    """Limnoria's byte-aware word wrap, first line only."""
    lines = utils.str.byteTextWrap(text, size)
    return lines[0] if lines else ""


class NtrPlaylist(callbacks.Plugin):
    """Relays ntrbot's live "Now Playing" announcements to plugins.NtrPlaylist.announceChannel
    and answers np, song N, playlist and lastshow N from ntrbot's HTTP API."""

    threaded = True  # commands wait on HTTP; keep them off the main loop

    def __init__(self, irc: Any) -> None:
        super().__init__(irc)
        self._listener = AnnounceListener(
            lambda: (self.registryValue("wsUrl"), self.registryValue("adminToken")),
            self._relay,
            logger=self.log,
            token_setting="plugins.NtrPlaylist.adminToken",
            relay_name=self._relay_name,
        )
        self._listener.start()

    def die(self) -> None:
        if not self._listener.stop():
            self.log.warning("ntr announce listener thread did not stop in time")
        super().die()

    def _targets(self, channel: str) -> list[Any]:
        """The networks where the bot is in ``channel`` and connected."""
        return [
            irc for irc in list(world.ircs) if not irc.zombie and channel in irc.state.channels
        ]

    def _relay_name(self) -> str:
        """``relayName``, else ``<nick>@<network>`` of the first network in the channel."""
        configured = self.registryValue("relayName")
        if configured:
            return configured
        ircs = self._targets(self.registryValue("announceChannel")) or list(world.ircs)
        return f"{ircs[0].nick}@{ircs[0].network}" if ircs else ""

    def _relay(self, text: str) -> None:
        """Queue one announce on every network where the bot is in the announce channel.

        One line each, shortened to fit with the bot's prefix; raises RelayFailed when it
        could be queued nowhere.
        """
        channel = self.registryValue("announceChannel")
        if not self._listener.wait_until(
            lambda: bool(self._targets(channel)), self._listener.post_wait
        ):
            raise RelayFailed(f"not in {channel} on any network")
        text = ircutils.safeArgument(ircutils.stripFormatting(text))
        targets = self._targets(channel)
        if not targets:  # left since the wait
            raise RelayFailed(f"not in {channel} on any network")
        refused: list[str] = []
        for irc in targets:
            line = fit_line(text, line_room(irc, channel), _word_cut)
            if irc.queueMsg(ircmsgs.privmsg(channel, line)) is False:
                refused.append(irc.network)
        if len(refused) == len(targets):
            raise RelayFailed(f"Limnoria did not queue it on {', '.join(refused)}")
        if refused:
            self.log.warning("ntr announce not queued on %s", ", ".join(refused))

    def _api(self) -> str:
        return self.registryValue("apiBaseUrl")

    def np(self, irc: Any, msg: Any, args: Any) -> None:
        """takes no arguments

        Shows the track announced last."""
        irc.reply(reply_np(self.registryValue("apiBaseUrl"), self._listener.last_announce))

    np = wrap(np)

    def song(self, irc: Any, msg: Any, args: Any, position: int) -> None:
        """<number>

        Shows track <number> of the current show."""
        irc.reply(reply_song(self._api(), position))

    song = wrap(song, ["positiveInt"])

    def playlist(self, irc: Any, msg: Any, args: Any) -> None:
        """takes no arguments

        Shows the current show's playlist."""
        irc.reply(reply_playlist(self._api()))

    playlist = wrap(playlist)

    def lastshow(self, irc: Any, msg: Any, args: Any, position: int) -> None:
        """<number>

        Shows track <number> of the previous show."""
        irc.reply(reply_lastshow(self._api(), position))

    lastshow = wrap(lastshow, ["positiveInt"])


Class = NtrPlaylist
