"""Channel commands (!np, !song, !playlist, !lastshow, !help, admin !announce/!refresh)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from irc.client import NickMask

from ntrbot.irc.hostmask import matches_any
from ntrbot.store.models import Show, ShowTrack

log = logging.getLogger(__name__)

MAX_POSITION = 100_000
PLAYLIST_LIST_MAX = 5


class BotServices(Protocol):
    """What the commands need from the rest of ntrbot (database, announcer, poller)."""

    async def current_show(self) -> Show | None: ...

    async def previous_show(self) -> Show | None: ...

    async def now_playing(self) -> tuple[Show, ShowTrack, datetime] | None: ...

    async def announce(self, position: int, who: str) -> str: ...

    async def refresh(self) -> str: ...

    def playlist_url(self, show: Show) -> str | None: ...


def ago(then: datetime, now: datetime) -> str:
    """`just now`, `5 min ago`, `2 h 5 min ago`, `3 days ago`."""
    secs = int((now - then).total_seconds())
    if secs < 60:
        return "just now"
    mins = secs // 60
    if mins < 60:
        return f"{mins} min ago"
    hours, mins = divmod(mins, 60)
    if hours < 24:
        return f"{hours} h {mins} min ago" if mins else f"{hours} h ago"
    days = hours // 24
    return "1 day ago" if days == 1 else f"{days} days ago"


def track_text(st: ShowTrack) -> str:
    """`Song #3: Title by Artist - URL`."""
    t = st.track
    url = f" - {t.permalink_url}" if t.permalink_url else ""  # manual tracks may have none
    return f"Song #{st.position}: {t.title} by {t.artist}{url}"


def parse_position(arg: str) -> int | None:
    """A track number from `3` or `#3`; None unless 1..MAX_POSITION."""
    s = arg.strip().lstrip("#")
    if not s.isascii() or not s.isdigit():
        return None
    n = int(s)
    return n if 1 <= n <= MAX_POSITION else None


def show_name(show: Show) -> str:
    if show.episode:
        return f"episode {show.episode}"
    return f"the week of {show.week_start:%Y-%m-%d}"


Handler = Callable[[str, list[str]], Awaitable[list[str]]]


class CommandHandler:
    """Parses a channel or private message and returns the reply lines (maybe none)."""

    def __init__(self, services: BotServices, admins: Sequence[str], prefix: str = "!",
                 *, clock: Callable[[], datetime] | None = None) -> None:
        self.services = services
        self.admins = tuple(admins)
        self.prefix = prefix
        self._now = clock or (lambda: datetime.now(UTC))
        self._public: dict[str, Handler] = {
            "np": self._np, "song": self._song, "playlist": self._playlist,
            "lastshow": self._lastshow, "help": self._help,
        }
        self._admin: dict[str, Handler] = {"announce": self._announce, "refresh": self._refresh}

    def is_admin(self, source: str) -> bool:
        return "!" in source and matches_any(self.admins, source)

    async def handle(self, source: str, target: str, text: str) -> list[str]:
        """Reply lines for `text` from `source` (nick!user@host) sent to `target`."""
        text = text.strip()
        if not text.startswith(self.prefix):
            return []
        rest = text[len(self.prefix):]
        if not rest or rest[0].isspace():
            return []
        words = rest.split()
        name, args = words[0].lower(), words[1:]
        try:
            if name in self._public:
                return await self._public[name](source, args)
            if name in self._admin:
                if not self.is_admin(source):
                    log.info("refused admin command %s from %s", name, source)
                    return [f"Sorry {NickMask(source).nick}, !{name} is for admins only."]
                log.info("admin command %s %s from %s", name, " ".join(args), source)
                return await self._admin[name](source, args)
        except Exception:
            log.exception("command %r from %s failed", text[:100], source)
            return [f"Sorry, !{name} failed; try again later."]
        return []

    # --- public ----------------------------------------------------------

    async def _np(self, source: str, args: list[str]) -> list[str]:
        playing = await self.services.now_playing()
        if playing is None:
            return ["Nothing announced yet."]
        _show, st, when = playing
        return [f"Now playing: {track_text(st)} (announced {ago(when, self._now())})"]

    async def _song(self, source: str, args: list[str]) -> list[str]:
        pos = parse_position(args[0]) if len(args) == 1 else None
        if pos is None:
            return [f"Usage: {self.prefix}song N (track number in this week's show)"]
        show = await self.services.current_show()
        if show is None:
            return ["No show this week yet."]
        return [self._track_reply(show, pos, "this week's show")]

    async def _lastshow(self, source: str, args: list[str]) -> list[str]:
        if len(args) > 1:
            return [f"Usage: {self.prefix}lastshow N (track number in the previous show)"]
        pos = parse_position(args[0]) if args else None
        if args and pos is None:
            return [f"Usage: {self.prefix}lastshow N (track number in the previous show)"]
        show = await self.services.previous_show()
        if show is None:
            return ["There is no previous show yet."]
        if pos is None:
            return [self._summary(show, "Last show")]
        return ["Last show: " + self._track_reply(show, pos, "the last show")]

    async def _playlist(self, source: str, args: list[str]) -> list[str]:
        show = await self.services.current_show()
        if show is None:
            return ["No show this week yet."]
        return [self._summary(show, "This week")]

    async def _help(self, source: str, args: list[str]) -> list[str]:
        p = self.prefix
        line = (f"Commands: {p}np (now playing), {p}song N, {p}playlist, "
                f"{p}lastshow N, {p}help")
        if self.is_admin(source):
            line += f"; admin: {p}announce N, {p}refresh"
        return [line]

    # --- admin -----------------------------------------------------------

    async def _announce(self, source: str, args: list[str]) -> list[str]:
        pos = parse_position(args[0]) if len(args) == 1 else None
        if pos is None:
            return [f"Usage: {self.prefix}announce N (track number in this week's show)"]
        return [await self.services.announce(pos, NickMask(source).nick)]

    async def _refresh(self, source: str, args: list[str]) -> list[str]:
        return [await self.services.refresh()]

    # --- helpers ---------------------------------------------------------

    def _track_reply(self, show: Show, pos: int, where: str) -> str:
        st = show.track_at(pos)
        if st is not None:
            return track_text(st)
        count = len(show.tracks)
        if count == 0:
            return f"No tracks in {where} yet."
        return f"No song #{pos}: {where} has {count} track{'s' if count != 1 else ''}."

    def _summary(self, show: Show, label: str) -> str:
        count = len(show.tracks)
        head = f"{label} ({show_name(show)}): {count} track{'s' if count != 1 else ''}"
        url = self.services.playlist_url(show)
        if url:
            return f"{head} - {url}"
        if not count:
            return head
        items = [f"#{st.position} {st.track.title} by {st.track.artist}"
                 for st in show.tracks[:PLAYLIST_LIST_MAX]]
        more = count - PLAYLIST_LIST_MAX
        tail = f"; and {more} more" if more > 0 else ""
        return f"{head}: " + "; ".join(items) + tail
