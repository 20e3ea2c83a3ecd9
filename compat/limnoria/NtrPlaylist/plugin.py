"""Limnoria plugin: relay ntrbot's live announcements and answer NtR playlist commands."""

from __future__ import annotations

from typing import Any

from supybot import callbacks, ircmsgs, world
from supybot.commands import wrap

from .ntrclient import AnnounceListener, reply_lastshow, reply_np, reply_playlist, reply_song


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
        )
        self._listener.start()

    def die(self) -> None:
        if not self._listener.stop():
            self.log.warning("ntr announce listener thread did not stop in time")
        super().die()

    def _relay(self, text: str) -> None:
        """Queue one announce on every network where the bot is in the announce channel."""
        channel = self.registryValue("announceChannel")
        targets = [irc for irc in list(world.ircs) if channel in irc.state.channels]
        if not targets:
            self.log.warning("Not in %s on any network; dropped announce: %s", channel, text)
            return
        for irc in targets:
            irc.queueMsg(ircmsgs.privmsg(channel, text))

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
