"""The SQL of playlist writes, run inside one write transaction: a week's show, tracks,
a hand-added track, a show's entries rewritten in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from ntrbot.store.models import Track
from ntrbot.store.schema import parse_iso as _dt
from ntrbot.store.schema import utc_iso as _iso

Entry = tuple[int, datetime, str]  # (track_id, liked_at, source: "like" | "manual")


async def create_show(c: aiosqlite.Connection, start: datetime, end: datetime) -> int:
    """Id of the week's show; a new show takes the previous show's episode number + 1."""
    await c.execute(
        "INSERT OR IGNORE INTO shows (week_start, week_end, episode) VALUES (?, ?, "
        "(SELECT episode + 1 FROM shows WHERE week_start < ? ORDER BY week_start DESC LIMIT 1))",
        (_iso(start), _iso(end), _iso(start)))
    async with c.execute("SELECT id FROM shows WHERE week_start = ?", (_iso(start),)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def upsert_tracks(c: aiosqlite.Connection, tracks: Sequence[Track]) -> None:
    await c.executemany(
        "INSERT INTO tracks (id, title, artist, permalink_url, artwork_url, duration_ms,"
        " license) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "title=excluded.title, artist=excluded.artist, "
        "permalink_url=excluded.permalink_url, artwork_url=excluded.artwork_url, "
        "duration_ms=excluded.duration_ms, license=excluded.license",
        [(t.id, t.title, t.artist, t.permalink_url, t.artwork_url, t.duration_ms,
          t.license) for t in tracks])


async def insert(c: aiosqlite.Connection, show_id: int, track: Track, liked_at: datetime,
                 position: int | None) -> int:
    """A hand-added track (source "manual": polls keep it) at `position` (default: last)."""
    items = await entries(c, show_id)
    if any(tid == track.id for tid, _, _ in items):
        raise ValueError(f"track {track.id} is already in show {show_id}")
    await upsert_tracks(c, [track])
    at = len(items) if position is None else max(0, min(position - 1, len(items)))
    items.insert(at, (track.id, liked_at, "manual"))
    await c.execute("DELETE FROM removed_tracks WHERE show_id = ? AND track_id = ?",
                    (show_id, track.id))
    await rewrite(c, show_id, items)
    return at + 1


async def entries(c: aiosqlite.Connection, show_id: int) -> list[Entry]:
    async with c.execute("SELECT track_id, liked_at, source FROM show_tracks WHERE show_id = ? "
                         "ORDER BY position", (show_id,)) as cur:
        return [(r[0], _dt(r[1]), r[2]) for r in await cur.fetchall()]


async def rewrite(c: aiosqlite.Connection, show_id: int, items: Sequence[Entry]) -> None:
    await c.execute("DELETE FROM show_tracks WHERE show_id = ?", (show_id,))
    await c.executemany(
        "INSERT INTO show_tracks (show_id, track_id, position, liked_at, source) "
        "VALUES (?, ?, ?, ?, ?)",
        [(show_id, tid, pos, _iso(at), src) for pos, (tid, at, src) in enumerate(items, 1)])
