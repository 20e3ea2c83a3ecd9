"""Poller test helpers: likes at given times, a poller over MemorySoundCloud, show titles."""

from __future__ import annotations

from datetime import datetime

from ntrbot.soundcloud.poller import Poller
from ntrbot.store.db import Database
from ntrbot.store.models import Like, Track
from ntrbot.weeks import ShowClock
from tests.support.constants import FROZEN_NOW, SHOW_START
from tests.support.memory_soundcloud import MemorySoundCloud

NOW = FROZEN_NOW
WEEK = SHOW_START  # the current week starts 2026-03-12T02:00Z


def like(track_id: int, at: datetime, title: str | None = None) -> Like:
    return Like(Track(track_id, title or f"Title {track_id}", f"Artist {track_id}",
                      f"https://soundcloud.com/a/t{track_id}"), at)


def make_poller(db: Database, sc: MemorySoundCloud, clock: ShowClock,
                now: datetime = NOW, backfill: int = 2) -> Poller:
    return Poller(db, sc, clock, username="nicktherat", backfill_weeks=backfill,
                  interval=3600, live_interval=60, now=lambda: now)


async def titles(db: Database, t: datetime) -> list[str]:
    show = await db.show_at(t)
    assert show is not None
    return [st.track.title for st in show.tracks]
