"""The one database object: SQLite through aiosqlite, versioned schema, one write path."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiosqlite

from ntrbot.store import manual
from ntrbot.store.announcements import AnnouncementStore
from ntrbot.store.files import create_private
from ntrbot.store.models import ImportedShow, ImportResult, Show, ShowTrack, Track
from ntrbot.store.playlists import Entry, create_show, entries, insert, rewrite, upsert_tracks
from ntrbot.store.schema import migrate
from ntrbot.store.schema import parse_iso as _dt
from ntrbot.store.schema import utc_iso as _iso
from ntrbot.store.sqlite import Row, connect, fetch_all, fetch_one
from ntrbot.store.sqlite import close as close_connections
from ntrbot.text import clean

T = TypeVar("T")

_SHOW_COLS = "id, week_start, week_end, episode"
_TRACK_COLS = ("st.position, st.liked_at, t.id, t.title, t.artist, t.permalink_url, "
               "t.artwork_url, t.duration_ms, t.license")


class Database:
    """All reads and writes of ntrbot's state. Writes go through `_write` (one at a time) on
    the writer connection; other reads use a read-only connection of their own, so (WAL) they
    see only committed data and never wait for a write. Announcements and their deliveries
    are `announcements`, a store given the same write path and reader."""

    def __init__(self, conn: aiosqlite.Connection, reader: aiosqlite.Connection,
                 tz: ZoneInfo) -> None:
        self._conn = conn  # the writer
        self._reader = reader  # the writer itself only for ":memory:" (one connection's data)
        self._tz = tz
        self._lock = asyncio.Lock()
        self._show_cache: dict[int, Show] = {}
        self._generation = 0  # bumped by every write; a read only caches if it did not move
        self.writes = 0  # committed write transactions (benchmarks and tests read it)
        self.announcements = AnnouncementStore(self._write, reader)

    @classmethod
    async def open(cls, path: str, tz: ZoneInfo) -> Database:
        """Open (a new file: create, mode 0600) and migrate the database at `path`."""
        with contextlib.suppress(OSError):  # sqlite3 says why it cannot, in its own words
            create_private(path)
        conn = await connect(path)
        reader: aiosqlite.Connection | None = None
        try:
            await migrate(conn)
            reader = conn if path == ":memory:" else await connect(path, reader=True)
        except BaseException:
            await close_connections(reader, conn)
            raise
        return cls(conn, reader, tz)

    async def close(self) -> None:
        await close_connections(self._reader, self._conn)

    @property
    def generation(self) -> int:
        """Changes whenever a show or its tracks may have changed (for caches of shows)."""
        return self._generation

    async def _write(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]], *,
                     shows: bool = True, dry_run: bool = False) -> T:
        """Run `fn` in one transaction; the only way anything is written. `shows=False`
        says the write touches no show or track, so cached shows stay valid; `dry_run`
        rolls the transaction back (to see what it would do). A rollback, like a commit of
        a write to shows, drops the show cache and moves `generation`."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            committed = False
            try:
                result = await fn(self._conn)
                if not dry_run:
                    await self._conn.commit()
                    committed = True
            finally:
                try:
                    if not committed:
                        await self._conn.rollback()
                finally:
                    if shows or not committed:
                        self._show_cache.clear()
                        self._generation += 1
            self.writes += committed
            return result

    async def _all(self, sql: str, params: Sequence[Any] = (),
                   conn: aiosqlite.Connection | None = None) -> list[Row]:
        """Rows from the reader; inside a write, pass its `conn` to see its own changes."""
        return await fetch_all(conn or self._reader, sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = (),
                   conn: aiosqlite.Connection | None = None) -> Row | None:
        return await fetch_one(conn or self._reader, sql, params)

    # --- shows -----------------------------------------------------------

    def _show(self, row: Sequence[Any], tracks: list[ShowTrack] | None = None) -> Show:
        return Show(id=row[0], week_start=_dt(row[1]).astimezone(self._tz),
                    week_end=_dt(row[2]).astimezone(self._tz), episode=row[3],
                    tracks=tracks or [])

    def _show_track(self, r: Sequence[Any]) -> ShowTrack:
        return ShowTrack(position=r[0], liked_at=_dt(r[1]), track=_track(r[2:9]))

    async def show(self, show_id: int) -> Show | None:
        """One show with its tracks in position order."""
        cached = self._show_cache.get(show_id)
        if cached is not None:
            return cached
        generation = self._generation
        row = await self._one(f"SELECT {_SHOW_COLS} FROM shows WHERE id = ?", (show_id,))
        if row is None:
            return None
        rows = await self._all(
            f"SELECT {_TRACK_COLS} FROM show_tracks st JOIN tracks t ON t.id = st.track_id "
            "WHERE st.show_id = ? ORDER BY st.position", (show_id,))
        show = self._show(row, [self._show_track(r) for r in rows])
        if generation == self._generation:
            self._show_cache[show_id] = show
        return show

    async def show_id_at(self, t: datetime) -> int | None:
        """Id of the show whose week contains `t`."""
        row = await self._one("SELECT id FROM shows WHERE week_start <= ? AND week_end > ? "
                              "ORDER BY week_start DESC LIMIT 1", (_iso(t), _iso(t)))
        return row[0] if row else None

    async def show_at(self, t: datetime) -> Show | None:
        show_id = await self.show_id_at(t)
        return await self.show(show_id) if show_id is not None else None

    async def show_before(self, show: Show) -> Show | None:
        row = await self._one("SELECT id FROM shows WHERE week_start < ? "
                              "ORDER BY week_start DESC LIMIT 1", (_iso(show.week_start),))
        return await self.show(row[0]) if row else None

    async def shows(self, limit: int, offset: int) -> tuple[list[Show], int]:
        """Shows newest first, without tracks, and the total count."""
        rows = await self._all(f"SELECT {_SHOW_COLS} FROM shows ORDER BY week_start DESC "
                               "LIMIT ? OFFSET ?", (limit, offset))
        total = await self._one("SELECT COUNT(*) FROM shows")
        return [self._show(r) for r in rows], (total[0] if total else 0)

    async def ensure_show(self, week_start: datetime, week_end: datetime) -> int:
        """The id of the show for this week, created (one write) if it did not exist."""
        row = await self._one("SELECT id FROM shows WHERE week_start = ?", (_iso(week_start),))
        if row:
            return int(row[0])
        return await self._write(lambda c: create_show(c, week_start, week_end))

    async def has_shows(self) -> bool:
        return await self._one("SELECT 1 FROM shows LIMIT 1") is not None

    # --- poller write path ---------------------------------------------------

    async def entries_since(self, t: datetime) -> dict[datetime, list[Entry]]:
        """Stored (track_id, liked_at, source) in position order, per week start (UTC), for
        weeks ending after `t`."""
        rows = await self._all(
            "SELECT s.week_start, st.track_id, st.liked_at, st.source FROM show_tracks st "
            "JOIN shows s ON s.id = st.show_id WHERE s.week_end > ? "
            "ORDER BY s.week_start, st.position", (_iso(t),))
        out: dict[datetime, list[Entry]] = {}
        for week_start, track_id, liked_at, source in rows:
            out.setdefault(_dt(week_start), []).append((track_id, _dt(liked_at), source))
        return out

    async def removed_since(self, t: datetime) -> dict[datetime, set[int]]:
        """Track ids the host removed, per week start (UTC), for weeks ending after `t`."""
        rows = await self._all(
            "SELECT s.week_start, r.track_id FROM removed_tracks r "
            "JOIN shows s ON s.id = r.show_id WHERE s.week_end > ?", (_iso(t),))
        out: dict[datetime, set[int]] = {}
        for week_start, track_id in rows:
            out.setdefault(_dt(week_start), set()).add(track_id)
        return out

    async def tracks_by_id(self, ids: Iterable[int], *,
                           conn: aiosqlite.Connection | None = None) -> dict[int, Track]:
        """Stored tracks by id (`conn`: a write's connection, as for `_all`)."""
        # One SQL text for any number of ids: see `_with_deliveries`.
        rows = await self._all(
            "SELECT id, title, artist, permalink_url, artwork_url, duration_ms, license "
            "FROM tracks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),), conn)
        return {r[0]: _track(r) for r in rows}

    async def save_playlists(self, tracks: Sequence[Track],
                             playlists: dict[tuple[datetime, datetime], list[Entry]]) -> None:
        """One transaction: upsert `tracks`, then set each week's entries in order."""

        async def write(c: aiosqlite.Connection) -> None:
            await upsert_tracks(c, tracks)
            for (start, end), items in playlists.items():
                await rewrite(c, await create_show(c, start, end), items)

        await self._write(write)

    async def import_shows(self, shows: Sequence[ImportedShow], *,
                           dry_run: bool = False) -> ImportResult:
        """One transaction: create missing weeks; add each week's missing tracks in order
        after what is stored (stored order, removals and announcements stay). Tracks already
        known keep their stored data. `dry_run` rolls it all back and only counts."""

        async def write(c: aiosqlite.Connection) -> ImportResult:  # reads on c see this write
            res = ImportResult()
            for start, end, episode, tracks in shows:
                found = await self._one("SELECT id FROM shows WHERE week_start = ?",
                                        (_iso(start),), c)
                show_id = found[0] if found else await create_show(c, start, end)
                if not found:
                    await c.execute("UPDATE shows SET episode = COALESCE(?, episode) WHERE "
                                    "id = ?", (episode, show_id))
                items = await entries(c, show_id)
                skip = {e[0] for e in items} | {r[0] for r in await self._all(
                    "SELECT track_id FROM removed_tracks WHERE show_id = ?", (show_id,), c)}
                new: list[tuple[Track, datetime]] = []
                for t, at in tracks:
                    if t.id not in skip:
                        skip.add(t.id)
                        new.append((t, at))
                known = await self.tracks_by_id((t.id for t, _ in new), conn=c)  # stored wins
                await upsert_tracks(c, [t for t, _ in new if t.id not in known])
                if new:
                    await rewrite(c, show_id, items + [(t.id, at, "like") for t, at in new])
                res.shows_present, res.shows_added = (res.shows_present + bool(found),
                                                      res.shows_added + (not found))
                res.tracks_added += len(new)
                res.per_show.append((bool(found), len(new)))
            return res

        return await self._write(write, dry_run=dry_run)

    # --- host edits (kept by later polls) ------------------------------------------

    async def add_track(self, show_id: int, track: Track, liked_at: datetime,
                        position: int | None = None) -> int:
        """Put `track` into the show at `position` (default: the end); returns its position.
        Raises ValueError when the track is already in the show."""

        return await self._write(lambda c: insert(c, show_id, track, liked_at, position))

    async def add_manual_track(self, show_id: int, track: Track, liked_at: datetime,
                               position: int | None = None) -> tuple[Track, int]:
        """Like `add_track` for a track not from SoundCloud: it gets a new negative id
        (`manual.next_id`; `track.id` is ignored). Raises ValueError for a duplicate."""

        async def write(c: aiosqlite.Connection) -> tuple[Track, int]:
            if await manual.duplicate_in_show(c, show_id, track):
                raise ValueError(f"{track.title} by {track.artist} is already in show {show_id}")
            added = replace(track, id=await manual.next_id(c))
            return added, await insert(c, show_id, added, liked_at, position)

        return await self._write(write)

    async def remove_track(self, show_id: int, position: int, when: datetime) -> int | None:
        """Take the track at `position` out of the show for good; returns its id."""

        async def write(c: aiosqlite.Connection) -> int | None:
            items = await entries(c, show_id)
            if not 1 <= position <= len(items):
                return None
            track_id = items.pop(position - 1)[0]
            await c.execute("INSERT OR REPLACE INTO removed_tracks (show_id, track_id, "
                            "removed_at) VALUES (?, ?, ?)", (show_id, track_id, _iso(when)))
            await rewrite(c, show_id, items)
            return track_id

        return await self._write(write)

    async def move_track(self, show_id: int, position: int, to: int) -> bool:
        """Move the track at `position` to `to` (both 1-based); False if out of range."""

        async def write(c: aiosqlite.Connection) -> bool:
            items = await entries(c, show_id)
            if not (1 <= position <= len(items) and 1 <= to <= len(items)):
                return False
            items.insert(to - 1, items.pop(position - 1))
            await rewrite(c, show_id, items)
            return True

        return await self._write(write)

    async def set_episode(self, show_id: int, episode: int | None) -> None:
        async def write(c: aiosqlite.Connection) -> None:
            await c.execute("UPDATE shows SET episode = ? WHERE id = ?", (episode, show_id))
        await self._write(write)

    async def get_meta(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        async def write(c: aiosqlite.Connection) -> None:
            await c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                            "DO UPDATE SET value = excluded.value", (key, value))
        await self._write(write, shows=False)

    async def integrity_ok(self) -> bool:
        row = await self._one("PRAGMA integrity_check")
        return row is not None and row[0] == "ok"



def _track(r: Sequence[Any]) -> Track:
    """A stored track; its texts through the one cleaner (`ntrbot.text.clean`: no control or
    bidi characters), so every page, export and line shows them clean, old rows too."""
    return Track(id=r[0], title=clean(r[1]), artist=clean(r[2]), permalink_url=r[3],
                 artwork_url=r[4], duration_ms=r[5],
                 license=clean(r[6]) if r[6] is not None else None)
