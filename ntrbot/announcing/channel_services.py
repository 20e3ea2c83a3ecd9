"""What the IRC commands ask of the rest of ntrbot, answered from the database and services."""

from __future__ import annotations

import logging
from datetime import datetime

from ntrbot.announcing.announcer import Announcer
from ntrbot.announcing.message import AlreadyAnnounced, AnnounceError
from ntrbot.soundcloud.poller import Poller
from ntrbot.store.current import CurrentShow
from ntrbot.store.db import Database
from ntrbot.store.models import Show, ShowTrack

log = logging.getLogger(__name__)


class ChannelServices:
    """The `BotServices` of ntrbot.irc.commands over the database, announcer and poller."""

    def __init__(self, db: Database, current: CurrentShow, announcer: Announcer,
                 poller: Poller, public_url: str | None = None) -> None:
        self._db = db
        self._current = current
        self._announcer = announcer
        self._poller = poller
        self._public_url = public_url.rstrip("/") if public_url else None

    async def current_show(self) -> Show | None:
        return await self._current.show()

    async def previous_show(self) -> Show | None:
        current = await self.current_show()
        return await self._db.show_before(current) if current else None

    async def now_playing(self) -> tuple[Show, ShowTrack, datetime] | None:
        ann = await self._db.announcements.last_announcement(aired=True)
        if ann is None:
            return None
        show = await self._db.show(ann.show_id)
        if show is None:
            return None
        st = next((t for t in show.tracks if t.track.id == ann.track_id), None)
        if st is None:
            return None
        return show, st, ann.announced_at

    async def announce(self, position: int, who: str) -> str:
        show = await self.current_show()
        if show is None:
            return "No show this week yet."
        try:
            result = await self._announcer.announce(show.id, position, who=f"irc:{who}")
        except AlreadyAnnounced:
            return f"#{position} was already announced this show; repeat it from the dashboard."
        except AnnounceError as exc:
            return exc.message
        return f"Announced #{position}: {result.irc}"

    async def refresh(self) -> str:
        try:
            result = await self._poller.poll_now()
        except Exception as exc:
            return f"Refresh failed: {exc}"
        return f"Refreshed: {result.summary()}"

    def playlist_url(self, show: Show) -> str | None:
        if not self._public_url:
            return None
        return f"{self._public_url}/shows/{show.id}"
