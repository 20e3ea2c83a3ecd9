"""Reads of N rows use one SQL text whatever N: sqlite3 keeps every distinct text prepared.

sqlite3 caches up to 128 prepared statements per connection. A query written with one `?`
per id (`IN (?, ?, ...)`) is a new text, so a new cached statement, whenever the number of
ids changes, and each is bigger than the last: the process grew with every announcement
(issue 22, the soak's RSS goal).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ntrbot.deliveries import DeliveryState
from ntrbot.store.db import Database
from ntrbot.store.models import OutputDelivery, Track

TZ = ZoneInfo("America/New_York")
START = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
COUNT = 40
STMT_SQL = "SELECT count(*) FROM sqlite_stmt"


@pytest.fixture
async def fdb(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(str(tmp_path / "ntrbot.db"), TZ)
    yield database
    await database.close()


def spy_sql(db: Database, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every SQL text the reader connection is given from now on."""
    seen: set[str] = set()
    execute = db._reader.execute

    def spy(sql: str, *args: Any) -> Any:
        seen.add(sql)
        return execute(sql, *args)
    monkeypatch.setattr(db._reader, "execute", spy)
    return seen


async def prepared(db: Database) -> int | None:
    """How many statements the reader keeps prepared (None: SQLite built without sqlite_stmt)."""
    try:
        row = await db._one(STMT_SQL)
    except sqlite3.OperationalError:
        return None
    assert row is not None
    return int(row[0])


async def test_announcement_reads_keep_one_statement_however_many(
        fdb: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    track = Track(1, "Song", "Artist", "https://soundcloud.com/a/song")
    await fdb.save_playlists([track], {(START, START + timedelta(days=7)): [
        (1, START, "like")]})
    sid = (await fdb.shows(1, 0))[0][0].id
    seen = spy_sql(fdb, monkeypatch)
    texts: set[str] = set()
    kept: int | None = None
    for i in range(COUNT):
        at = START + timedelta(minutes=i)
        await fdb.announcements.record_announcement(
            sid, 1, 1, f"Now Playing #{i}", at, "t", "delivered",
            deliveries=[OutputDelivery("irc:#c", DeliveryState.DELIVERED, "", at)])
        history = await fdb.announcements.for_show(sid)
        assert len(history) == i + 1 and all(len(a.deliveries) == 1 for a in history)
        if i == 1:
            texts, kept = set(seen), await prepared(fdb)
    assert seen - texts <= {STMT_SQL}, f"{len(seen - texts)} more SQL texts after 2 reads"
    count = await prepared(fdb)
    if kept is not None and count is not None:
        assert count <= kept, f"{kept} -> {count} statements kept prepared on the reader"


async def test_tracks_by_id_keeps_one_statement_however_many(
        fdb: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    tracks = [Track(i, f"t{i}", "a", f"https://soundcloud.com/a/t{i}") for i in range(1, 61)]
    await fdb.save_playlists(tracks, {(START, START + timedelta(days=7)): [
        (t.id, START, "like") for t in tracks]})
    seen = spy_sql(fdb, monkeypatch)
    for n in range(1, len(tracks) + 1):
        found = await fdb.tracks_by_id([t.id for t in tracks[:n]] + [10_000 + n])
        assert sorted(found) == list(range(1, n + 1))
        assert found[n].title == f"t{n}"
    assert len(seen) == 1, f"{len(seen)} SQL texts for {len(tracks)} look-ups"
