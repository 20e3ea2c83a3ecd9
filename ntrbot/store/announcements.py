"""Announcements and their per-output deliveries: `Database.announcements`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from ntrbot.store.models import Announcement, OutputDelivery
from ntrbot.store.schema import parse_iso as _dt
from ntrbot.store.schema import utc_iso as _iso
from ntrbot.store.sqlite import Row, WritePath, fetch_all, fetch_one

# Announcements follow their track: `position` is where the track is in the show now (after
# the host's edits), or where it was when announced if it has been removed since.
_ANN_SELECT = ("SELECT a.id, a.show_id, COALESCE(st.position, a.position), a.track_id, a.message, "
               "a.announced_at, a.who, a.delivery, a.delivered_at, a.airs_at "
               "FROM announcements a LEFT JOIN show_tracks st "
               "ON st.show_id = a.show_id AND st.track_id = a.track_id "
               "WHERE a.retracted_at IS NULL")


class AnnouncementStore:
    """Announcements and their per-output deliveries. Every write goes through the
    database's one write path (`write`, on the writer connection); reads use `reader`, the
    database's read-only connection."""

    def __init__(self, write: WritePath, reader: aiosqlite.Connection) -> None:
        self._write = write
        self._reader = reader

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await fetch_all(self._reader, sql, params)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await fetch_one(self._reader, sql, params)

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
        # One SQL text for any number of ids (a `?` per id would prepare and cache a new,
        # bigger statement whenever the count changes: memory grew with every announcement).
        for d in await self._all(
                "SELECT announcement_id, output, state, detail, at FROM deliveries WHERE "
                "announcement_id IN (SELECT value FROM json_each(?)) "
                "ORDER BY announcement_id, ord", (json.dumps(ids),)):
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

    async def for_show(self, show_id: int) -> list[Announcement]:
        """The show's announcements (retracted ones left out), oldest first."""
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
        """The latest announcement; with `aired`, the latest one that aired
        (`Announcement.aired`: confirmed somewhere), looking back 100 announces."""
        rows = await self._all(f"{_ANN_SELECT} ORDER BY a.announced_at DESC, a.id DESC "
                               f"LIMIT {100 if aired else 1}")
        for ann in await self._with_deliveries(rows):
            if ann.aired or not aired:
                return ann
        return None

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

    async def unfinished_announcements(self) -> list[Announcement]:
        """Announces with an output still queued or sent (those waiting for an air time
        included): what a stop or a crash cut off."""
        rows = await self._all(
            f"{_ANN_SELECT} AND EXISTS (SELECT 1 FROM deliveries d WHERE d.announcement_id = "
            "a.id AND d.state IN ('queued', 'sent')) ORDER BY a.announced_at, a.id")
        return await self._with_deliveries(rows)

    async def delivery_counts(self) -> list[tuple[str, str, int]]:
        """(output, state, count) of every output delivery in a final state, ever recorded
        (retracted announcements too: the lines went out), for /metrics."""
        rows = await self._all(
            "SELECT output, state, COUNT(*) FROM deliveries WHERE state IN "
            "('delivered', 'failed', 'expired', 'cancelled') GROUP BY output, state "
            "ORDER BY output, state")
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def delivery_seconds(self) -> list[float]:
        """Seconds from each announce to its `delivered` (its first IRC channel's
        confirmation), counted from its air time when it waited for one; for /metrics."""
        rows = await self._all(
            "SELECT COALESCE(airs_at, announced_at), delivered_at FROM announcements "
            "WHERE delivered_at IS NOT NULL")
        return [max(0.0, (_dt(done) - _dt(start)).total_seconds()) for start, done in rows]

    async def retract_announcement(self, announcement_id: int, when: datetime) -> bool:
        """Strike an announcement from the history (the IRC line itself stays sent)."""
        async def write(c: aiosqlite.Connection) -> bool:
            cur = await c.execute("UPDATE announcements SET retracted_at = ? WHERE id = ? AND "
                                  "retracted_at IS NULL", (_iso(when), announcement_id))
            return cur.rowcount == 1
        return await self._write(write, shows=False)
