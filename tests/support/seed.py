"""Seed data: the tracks of the frozen show week and the helpers that store them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from ntrbot import keys
from ntrbot.store.db import Database
from ntrbot.store.models import Like, Track
from ntrbot.weeks import ShowClock
from tests.support.constants import FROZEN_NOW, SHOW_START

TRACKS = [
    Track(101, "Sewer Song", "The Rats", "https://soundcloud.com/rats/sewer-song",
          None, 180_000, "cc-by"),
    Track(102, "Cheese\r\nPRIVMSG #x :pwned", "Mouse & Co", "https://soundcloud.com/m/cheese",
          None, 200_000, None),
    Track(103, "Tunnels", "Ratking", "https://soundcloud.com/rk/tunnels", None, 210_000, None),
]
# One like long before any test's show week: a poll finds likes but changes nothing.
OLD_LIKE = Like(Track(1, "Ancient", "Nobody", "https://soundcloud.com/n/ancient"),
                datetime(2020, 1, 1, tzinfo=UTC))
OLD_TRACKS = [
    Track(201, "Last Week", "Oldies", "https://soundcloud.com/o/last", None, 100_000, None),
]


async def seed(db: Database, clock: ShowClock, now: datetime = FROZEN_NOW) -> tuple[int, int]:
    """Three tracks in the current show, one in the previous; returns (current, previous)."""
    start, end = clock.week_of(now)
    pstart, pend = clock.previous_week(start)
    liked = [start + timedelta(hours=i + 1) for i in range(len(TRACKS))]
    await db.save_playlists(TRACKS + OLD_TRACKS, {
        (start, end): [(t.id, at, "like") for t, at in zip(TRACKS, liked, strict=True)],
        (pstart, pend): [(OLD_TRACKS[0].id, pstart + timedelta(hours=2), "like")],
    })
    current = await db.show_id_at(now)
    previous = await db.show_id_at(pstart + timedelta(hours=1))
    assert current is not None and previous is not None
    return current, previous


async def seed_app(app: web.Application) -> tuple[int, int]:
    """`seed` into a started app's database, at the app's own clock."""
    return await seed(app[keys.DB], app[keys.CLOCK], app[keys.NOW]())


def song(i: int) -> Track:
    """Track `i`: "Song i" by "Artist i", with artwork, i seconds long, cc-by."""
    return Track(i, f"Song {i}", f"Artist {i}", f"https://soundcloud.com/a/s{i}",
                 f"https://i1.sndcdn.com/{i}.jpg", 1000 * i, "cc-by")


async def seed_songs(app: web.Application) -> None:
    """Songs 1-3 in FROZEN_NOW's show, songs 4 and 5 in the previous one."""
    db, clock = app[keys.DB], app[keys.CLOCK]
    cur = clock.week_of(FROZEN_NOW)
    prev = clock.previous_week(cur[0])
    await db.save_playlists([song(i) for i in range(1, 6)], {
        prev: [(4, SHOW_START - timedelta(days=2), "like"),
               (5, SHOW_START - timedelta(days=1), "like")],
        cur: [(i, SHOW_START + timedelta(hours=i), "like") for i in (1, 2, 3)],
    })
