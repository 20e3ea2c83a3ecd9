"""The one database object: SQLite through aiosqlite, versioned schema, one write path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

import aiosqlite

from . import manual
from .models import (
    Announcement,
    ImportedShow,
    ImportResult,
    OutputDelivery,
    Show,
    ShowTrack,
    Track,
)
from .schema import MIGRATIONS

log = logging.getLogger(__name__)
T = TypeVar("T")

_SHOW_COLS = "id, week_start, week_end, episode"
_TRACK_COLS = ("st.position, st.liked_at, t.id, t.title, t.artist, t.permalink_url, "
               "t.artwork_url, t.duration_ms, t.license")
# Announcements follow their track: `position` is where the track is in the show now (after
# the host's edits), or where it was when announced if it has been removed since.
_ANN_SELECT = ("SELECT a.id, a.show_id, COALESCE(st.position, a.position), a.track_id, a.message, "
               "a.announced_at, a.who, a.delivery, a.delivered_at, a.airs_at "
               "FROM announcements a LEFT JOIN show_tracks st "
               "ON st.show_id = a.show_id AND st.track_id = a.track_id "
               "WHERE a.retracted_at IS NULL")


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def _dt(s: str) -> datetime:
    return datetime.fromisoformat(s)


Row = tuple[Any, ...]  # one result row


class Database:
    """All reads and writes of ntrbot's state. Writes go through `_write` (one at a time)."""

    def __init__(self, conn: aiosqlite.Connection, tz: ZoneInfo) -> None:
        self._conn = conn
        self._tz = tz
        self._lock = asyncio.Lock()
        self._show_cache: dict[int, Show] = {}
        self._generation = 0  # bumped by every write; a read only caches if it did not move
        self.writes = 0  # committed write transactions (benchmarks and tests read it)

    @classmethod
    async def open(cls, path: str, tz: ZoneInfo) -> Database:
        conn = aiosqlite.connect(path)
        try:
            await conn
        except BaseException:
            # aiosqlite stops its worker thread without waiting for it; wait here, so the
            # thread never calls back into an event loop that has closed meanwhile.
            thread = getattr(conn, "_thread", None)
            if thread is not None:
                await asyncio.to_thread(thread.join, 5)
            raise
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            db = cls(conn, tz)
            await db._migrate()
        except BaseException:
            await conn.close()
            raise
        return db

    async def close(self) -> None:
        await self._conn.close()

    async def _migrate(self) -> None:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema {version} is newer than this ntrbot "
                               f"({len(MIGRATIONS)})")
        for i in range(version, len(MIGRATIONS)):
            await self._conn.executescript(
                f"BEGIN; {MIGRATIONS[i]}; PRAGMA user_version = {i + 1}; COMMIT;")
            log.info("database schema migrated to version %d", i + 1)

    @property
    def generation(self) -> int:
        """Changes whenever a show or its tracks may have changed (for caches of shows)."""
        return self._generation

    async def _write(self, fn: Callable[[aiosqlite.Connection], Awaitable[T]], *,
                     shows: bool = True, dry_run: bool = False) -> T:
        """Run `fn` in one transaction; the only way anything is written. `shows=False`
        says the write touches no show or track, so cached shows stay valid; `dry_run`
        rolls the transaction back (to see what it would do)."""
        async with self._lock:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = await fn(self._conn)
            except BaseException:
                await self._conn.rollback()
                raise
            if dry_run:
                await self._conn.rollback()
                return result
            await self._conn.commit()
            if shows:
                self._show_cache.clear()
                self._generation += 1
            self.writes += 1
            return result

    # The connection keeps sqlite3's default row factory, so a row is a plain tuple;
    # aiosqlite's types say sqlite3.Row, which covers any factory.

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        async with self._conn.execute(sql, params) as cur:
            return list(cast(Iterable[Row], await cur.fetchall()))

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        async with self._conn.execute(sql, params) as cur:
            return cast(Row | None, await cur.fetchone())

    # --- shows -----------------------------------------------------------

    def _show(self, row: Sequence[Any], tracks: list[ShowTrack] | None = None) -> Show:
        return Show(id=row[0], week_start=_dt(row[1]).astimezone(self._tz),
                    week_end=_dt(row[2]).astimezone(self._tz), episode=row[3],
                    tracks=tracks or [])

    def _show_track(self, r: Sequence[Any]) -> ShowTrack:
        return ShowTrack(position=r[0], liked_at=_dt(r[1]),
                         track=Track(id=r[2], title=r[3], artist=r[4], permalink_url=r[5],
                                     artwork_url=r[6], duration_ms=r[7], license=r[8]))

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
        return await self._write(lambda c: _create_show(c, week_start, week_end))

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

    async def tracks_by_id(self, ids: Iterable[int]) -> dict[int, Track]:
        ids = list(ids)
        out: dict[int, Track] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in await self._all(
                    "SELECT id, title, artist, permalink_url, artwork_url, duration_ms, license "
                    f"FROM tracks WHERE id IN ({marks})", chunk):
                out[r[0]] = Track(*r)
        return out

    async def save_playlists(self, tracks: Sequence[Track],
                             playlists: dict[tuple[datetime, datetime], list[Entry]]) -> None:
        """One transaction: upsert `tracks`, then set each week's entries in order."""

        async def write(c: aiosqlite.Connection) -> None:
            await _upsert_tracks(c, tracks)
            for (start, end), items in playlists.items():
                await _rewrite(c, await _create_show(c, start, end), items)

        await self._write(write)

    async def import_shows(self, shows: Sequence[ImportedShow], *,
                           dry_run: bool = False) -> ImportResult:
        """One transaction: create missing weeks; add each week's missing tracks in order
        after what is stored (stored order, removals and announcements stay). Tracks already
        known keep their stored data. `dry_run` rolls it all back and only counts."""

        async def write(c: aiosqlite.Connection) -> ImportResult:  # c is self._conn
            res = ImportResult()
            for start, end, episode, tracks in shows:
                found = await self._one("SELECT id FROM shows WHERE week_start = ?",
                                        (_iso(start),))
                show_id = found[0] if found else await _create_show(c, start, end)
                if not found:
                    await c.execute("UPDATE shows SET episode = COALESCE(?, episode) WHERE "
                                    "id = ?", (episode, show_id))
                items = await _entries(c, show_id)
                skip = {e[0] for e in items} | {r[0] for r in await self._all(
                    "SELECT track_id FROM removed_tracks WHERE show_id = ?", (show_id,))}
                new: list[tuple[Track, datetime]] = []
                for t, at in tracks:
                    if t.id not in skip:
                        skip.add(t.id)
                        new.append((t, at))
                known = await self.tracks_by_id(t.id for t, _ in new)  # stored data wins
                await _upsert_tracks(c, [t for t, _ in new if t.id not in known])
                if new:
                    await _rewrite(c, show_id, items + [(t.id, at, "like") for t, at in new])
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

        return await self._write(lambda c: _insert(c, show_id, track, liked_at, position))

    async def add_manual_track(self, show_id: int, track: Track, liked_at: datetime,
                               position: int | None = None) -> tuple[Track, int]:
        """Like `add_track` for a track not from SoundCloud: it gets a new negative id
        (`manual.next_id`; `track.id` is ignored). Raises ValueError for a duplicate."""

        async def write(c: aiosqlite.Connection) -> tuple[Track, int]:
            if await manual.duplicate_in_show(c, show_id, track):
                raise ValueError(f"{track.title} by {track.artist} is already in show {show_id}")
            added = replace(track, id=await manual.next_id(c))
            return added, await _insert(c, show_id, added, liked_at, position)

        return await self._write(write)

    async def remove_track(self, show_id: int, position: int, when: datetime) -> int | None:
        """Take the track at `position` out of the show for good; returns its id."""

        async def write(c: aiosqlite.Connection) -> int | None:
            items = await _entries(c, show_id)
            if not 1 <= position <= len(items):
                return None
            track_id = items.pop(position - 1)[0]
            await c.execute("INSERT OR REPLACE INTO removed_tracks (show_id, track_id, "
                            "removed_at) VALUES (?, ?, ?)", (show_id, track_id, _iso(when)))
            await _rewrite(c, show_id, items)
            return track_id

        return await self._write(write)

    async def move_track(self, show_id: int, position: int, to: int) -> bool:
        """Move the track at `position` to `to` (both 1-based); False if out of range."""

        async def write(c: aiosqlite.Connection) -> bool:
            items = await _entries(c, show_id)
            if not (1 <= position <= len(items) and 1 <= to <= len(items)):
                return False
            items.insert(to - 1, items.pop(position - 1))
            await _rewrite(c, show_id, items)
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

    # --- announcements ---------------------------------------------------------

    def _ann(self, r: Sequence[Any],
             deliveries: Sequence[OutputDelivery] = ()) -> Announcement:
        return Announcement(id=r[0], show_id=r[1], position=r[2], track_id=r[3], message=r[4],
                            announced_at=_dt(r[5]), who=r[6], delivery=r[7],
                            delivered_at=_dt(r[8]) if r[8] else None,
                            airs_at=_dt(r[9]) if r[9] else None,
                            deliveries=tuple(deliveries))

    async def _with_deliveries(self, rows: Sequence[Sequence[Any]]) -> list[Announcement]:
        if not rows:
            return []
        ids = [r[0] for r in rows]
        by_id: dict[int, list[OutputDelivery]] = {i: [] for i in ids}
        marks = ",".join("?" * len(ids))
        for d in await self._all(
                "SELECT announcement_id, output, state, detail, at FROM deliveries WHERE "
                f"announcement_id IN ({marks}) ORDER BY announcement_id, ord", ids):
            by_id[d[0]].append(OutputDelivery(d[1], d[2], d[3], _dt(d[4])))
        return [self._ann(r, by_id[r[0]]) for r in rows]

    async def next_announcement_id(self) -> int:
        """The id the next recorded announcement may take (ids are never reused)."""
        row = await self._one(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = "
            "'announcements'), 0), COALESCE((SELECT MAX(id) FROM announcements), 0))")
        return int(row[0] if row else 0) + 1

    async def record_announcement(self, show_id: int, position: int, track_id: int,
                                  message: str, announced_at: datetime, who: str,
                                  delivery: str, *, announcement_id: int | None = None,
                                  deliveries: Sequence[OutputDelivery] = (),
                                  delivered_at: datetime | None = None,
                                  airs_at: datetime | None = None) -> int:
        """Insert one announcement with its deliveries (one per output) in one transaction."""
        async def write(c: aiosqlite.Connection) -> int:
            cur = await c.execute(
                "INSERT INTO announcements (id, show_id, position, track_id, message, "
                "announced_at, who, delivery, delivered_at, airs_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (announcement_id, show_id, position, track_id, message, _iso(announced_at),
                 who, delivery, _iso(delivered_at) if delivered_at else None,
                 _iso(airs_at) if airs_at else None))
            assert cur.lastrowid is not None
            await c.executemany(
                "INSERT INTO deliveries (announcement_id, output, ord, state, detail, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(cur.lastrowid, d.output, i, d.state, d.detail, _iso(d.at))
                 for i, d in enumerate(deliveries)])
            return cur.lastrowid
        return await self._write(write, shows=False)

    async def set_delivery(self, announcement_id: int, delivery: str | None = None, *,
                           delivered_at: datetime | None = None,
                           outputs: Sequence[OutputDelivery] = ()) -> None:
        """Update the announcement's summary state and the given outputs' deliveries."""
        async def write(c: aiosqlite.Connection) -> None:
            if delivery is not None:
                await c.execute(
                    "UPDATE announcements SET delivery = ?, delivered_at = ? WHERE id = ?",
                    (delivery, _iso(delivered_at) if delivered_at else None, announcement_id))
            for d in outputs:
                await c.execute(
                    "INSERT INTO deliveries (announcement_id, output, ord, state, detail, at) "
                    "VALUES (?, ?, (SELECT COUNT(*) FROM deliveries WHERE announcement_id = ?),"
                    " ?, ?, ?) ON CONFLICT (announcement_id, output) DO UPDATE SET "
                    "state = excluded.state, detail = excluded.detail, at = excluded.at",
                    (announcement_id, d.output, announcement_id, d.state, d.detail,
                     _iso(d.at)))
        await self._write(write, shows=False)

    async def announcements(self, show_id: int) -> list[Announcement]:
        rows = await self._all(f"{_ANN_SELECT} AND a.show_id = ? ORDER BY a.announced_at, a.id",
                               (show_id,))
        return await self._with_deliveries(rows)

    async def first_announcement(self, show_id: int, position: int) -> Announcement | None:
        """The first announcement of the track now at `position` in the show."""
        row = await self._one(
            f"{_ANN_SELECT} AND a.delivery != 'cancelled' AND a.show_id = ? AND a.track_id = "
            "(SELECT track_id FROM "
            "show_tracks WHERE show_id = ? AND position = ?) ORDER BY a.announced_at, a.id "
            "LIMIT 1", (show_id, show_id, position))
        return (await self._with_deliveries([row]))[0] if row else None

    async def last_announcement(self, *, aired: bool = False) -> Announcement | None:
        """The latest announcement; with `aired`, the latest one an output confirmed."""
        where = (" AND (EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id AND "
                 "d.state = 'delivered') OR (NOT EXISTS (SELECT 1 FROM deliveries d WHERE "
                 "d.announcement_id = a.id) AND a.delivery NOT IN ('cancelled', 'expired', "
                 "'queued')))"
                 if aired else "")
        row = await self._one(
            f"{_ANN_SELECT}{where} ORDER BY a.announced_at DESC, a.id DESC LIMIT 1")
        return (await self._with_deliveries([row]))[0] if row else None

    async def announcement(self, announcement_id: int) -> Announcement | None:
        row = await self._one(f"{_ANN_SELECT} AND a.id = ?", (announcement_id,))
        return (await self._with_deliveries([row]))[0] if row else None

    async def pending_announcements(self) -> list[Announcement]:
        """Announces recorded with an air time that have not gone to any output yet."""
        rows = await self._all(
            f"{_ANN_SELECT} AND a.airs_at IS NOT NULL AND a.delivery = 'queued' AND NOT EXISTS "
            "(SELECT 1 FROM deliveries d WHERE d.announcement_id = a.id AND d.state != "
            "'queued') ORDER BY a.airs_at, a.id")
        return await self._with_deliveries(rows)

    async def retract_announcement(self, announcement_id: int, when: datetime) -> bool:
        """Strike an announcement from the history (the IRC line itself stays sent)."""
        async def write(c: aiosqlite.Connection) -> bool:
            cur = await c.execute("UPDATE announcements SET retracted_at = ? WHERE id = ? AND "
                                  "retracted_at IS NULL", (_iso(when), announcement_id))
            return cur.rowcount == 1
        return await self._write(write, shows=False)

    async def integrity_ok(self) -> bool:
        row = await self._one("PRAGMA integrity_check")
        return row is not None and row[0] == "ok"


Entry = tuple[int, datetime, str]  # (track_id, liked_at, source: "like" | "manual")


async def _create_show(c: aiosqlite.Connection, start: datetime, end: datetime) -> int:
    """Id of the week's show; a new show takes the previous show's episode number + 1."""
    await c.execute(
        "INSERT OR IGNORE INTO shows (week_start, week_end, episode) VALUES (?, ?, "
        "(SELECT episode + 1 FROM shows WHERE week_start < ? ORDER BY week_start DESC LIMIT 1))",
        (_iso(start), _iso(end), _iso(start)))
    async with c.execute("SELECT id FROM shows WHERE week_start = ?", (_iso(start),)) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def _upsert_tracks(c: aiosqlite.Connection, tracks: Sequence[Track]) -> None:
    await c.executemany(
        "INSERT INTO tracks (id, title, artist, permalink_url, artwork_url, duration_ms,"
        " license) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "title=excluded.title, artist=excluded.artist, "
        "permalink_url=excluded.permalink_url, artwork_url=excluded.artwork_url, "
        "duration_ms=excluded.duration_ms, license=excluded.license",
        [(t.id, t.title, t.artist, t.permalink_url, t.artwork_url, t.duration_ms,
          t.license) for t in tracks])


async def _insert(c: aiosqlite.Connection, show_id: int, track: Track, liked_at: datetime,
                  position: int | None) -> int:
    """A hand-added track (source "manual": polls keep it) at `position` (default: last)."""
    items = await _entries(c, show_id)
    if any(tid == track.id for tid, _, _ in items):
        raise ValueError(f"track {track.id} is already in show {show_id}")
    await _upsert_tracks(c, [track])
    at = len(items) if position is None else max(0, min(position - 1, len(items)))
    items.insert(at, (track.id, liked_at, "manual"))
    await c.execute("DELETE FROM removed_tracks WHERE show_id = ? AND track_id = ?",
                    (show_id, track.id))
    await _rewrite(c, show_id, items)
    return at + 1


async def _entries(c: aiosqlite.Connection, show_id: int) -> list[Entry]:
    async with c.execute("SELECT track_id, liked_at, source FROM show_tracks WHERE show_id = ? "
                         "ORDER BY position", (show_id,)) as cur:
        return [(r[0], _dt(r[1]), r[2]) for r in await cur.fetchall()]


async def _rewrite(c: aiosqlite.Connection, show_id: int, items: Sequence[Entry]) -> None:
    await c.execute("DELETE FROM show_tracks WHERE show_id = ?", (show_id,))
    await c.executemany(
        "INSERT INTO show_tracks (show_id, track_id, position, liked_at, source) "
        "VALUES (?, ?, ?, ?, ?)",
        [(show_id, tid, pos, _iso(at), src) for pos, (tid, at, src) in enumerate(items, 1)])
