"""Reads have their own connection: they never see a write in progress or a rolled-back one."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
import pytest

from ntrbot.store.db import Database
from ntrbot.store.models import ImportedShow, Track

TZ = ZoneInfo("America/New_York")
W1 = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)
W2 = W1 + timedelta(days=7)
W3 = W2 + timedelta(days=7)
GUARD = 10  # seconds: only so that a blocked read fails the test instead of hanging it


@pytest.fixture
async def fdb(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(str(tmp_path / "ntrbot.db"), TZ)
    yield database
    await database.close()


async def _add_track(c: aiosqlite.Connection, show_id: int, track_id: int, pos: int) -> None:
    await c.execute("INSERT INTO tracks (id, title, artist, permalink_url) VALUES (?, ?, ?, ?)",
                    (track_id, f"t{track_id}", "a", f"https://soundcloud.com/a/t{track_id}"))
    await c.execute("INSERT INTO show_tracks (show_id, track_id, position, liked_at) "
                    "VALUES (?, ?, ?, ?)", (show_id, track_id, pos, W1.isoformat()))


async def _new_show(c: aiosqlite.Connection, show_id: int, start: datetime) -> None:
    await c.execute("INSERT INTO shows (id, week_start, week_end) VALUES (?, ?, ?)",
                    (show_id, start.isoformat(), (start + timedelta(days=7)).isoformat()))


class HeldWrite:
    """A `_write` whose fn makes its changes, then waits (transaction open) until released;
    with `fail`, it then raises, so the transaction is rolled back."""

    def __init__(self, db: Database, change: Callable[[aiosqlite.Connection], Awaitable[None]],
                 *, fail: bool = False) -> None:
        self.inside, self.release = asyncio.Event(), asyncio.Event()
        self.change, self.fail = change, fail
        self.task = asyncio.create_task(db._write(self._fn))

    async def _fn(self, c: aiosqlite.Connection) -> None:
        await self.change(c)
        self.inside.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("rolled back on purpose")

    async def __aenter__(self) -> HeldWrite:
        await asyncio.wait_for(self.inside.wait(), GUARD)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        if self.fail:
            with pytest.raises(RuntimeError, match="on purpose"):
                await self.task
        else:
            await self.task


async def _read(make: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """A read from another task, as a request handler would make it."""
    return await asyncio.wait_for(asyncio.create_task(make()), GUARD)


async def test_a_reader_never_sees_a_write_in_progress(fdb: Database) -> None:
    a = await fdb.ensure_show(W1, W2)
    assert (await fdb.show(a)).tracks == []  # type: ignore[union-attr]  # warm the cache

    async def change(c: aiosqlite.Connection) -> None:
        await _add_track(c, a, 101, 1)
        await _new_show(c, 50, W2)
        await _add_track(c, 50, 102, 1)

    async with HeldWrite(fdb, change):
        assert await _read(lambda: fdb.show(50)) is None
        assert (await _read(lambda: fdb.show(a))).tracks == []
        shows, total = await _read(lambda: fdb.shows(10, 0))
        assert (total, [s.id for s in shows]) == (1, [a])
        assert await _read(lambda: fdb.show_id_at(W2 + timedelta(hours=1))) is None
        assert await _read(lambda: fdb.tracks_by_id([101, 102])) == {}
        assert fdb._show_cache.get(50) is None

    # Read your writes: once committed, every read has it.
    assert [t.track.id for t in (await fdb.show(a)).tracks] == [101]  # type: ignore[union-attr]
    show = await fdb.show(50)
    assert show is not None and [t.track.id for t in show.tracks] == [102]
    assert (await fdb.shows(10, 0))[1] == 2
    assert set(await fdb.tracks_by_id([101, 102])) == {101, 102}


async def test_a_reader_never_sees_a_rolled_back_write(fdb: Database) -> None:
    a = await fdb.ensure_show(W1, W2)
    assert (await fdb.show(a)).tracks == []  # type: ignore[union-attr]  # warm the cache
    generation = fdb.generation

    async def change(c: aiosqlite.Connection) -> None:
        await _add_track(c, a, 101, 1)
        await _new_show(c, 50, W2)
        await _add_track(c, 50, 102, 1)

    async with HeldWrite(fdb, change, fail=True):
        # Reads meanwhile (show 50 a cache miss) must leave nothing behind once it rolls back.
        seen = [await _read(lambda: fdb.show(50)), await _read(lambda: fdb.show(a)),
                await _read(lambda: fdb.shows(10, 0))]
        assert len(seen) == 3

    assert fdb._show_cache.get(50) is None
    assert await fdb.show(50) is None
    assert (await fdb.show(a)).tracks == []  # type: ignore[union-attr]
    shows, total = await fdb.shows(10, 0)
    assert (total, [s.id for s in shows]) == (1, [a])
    assert await fdb.tracks_by_id([101, 102]) == {}
    assert fdb.generation != generation  # a rollback drops the show cache too


async def test_rollback_without_readers_still_drops_the_cache(fdb: Database) -> None:
    a = await fdb.ensure_show(W1, W2)
    track = Track(id=7, title="t", artist="a", permalink_url="https://soundcloud.com/a/t")
    await fdb.add_track(a, track, W1)
    await fdb.show(a)
    generation = fdb.generation
    with pytest.raises(ValueError):  # already in the show: the write raises and rolls back
        await fdb.add_track(a, track, W1)
    assert fdb.generation != generation and fdb._show_cache == {}
    assert [t.track.id for t in (await fdb.show(a)).tracks] == [7]  # type: ignore[union-attr]


async def test_reads_inside_a_write_see_their_own_transaction(fdb: Database) -> None:
    """import_shows looks its weeks and tracks up inside its transaction: the same week twice
    in one import is one show (the second time present), a track seen once is known."""
    t1, t2 = (Track(id=i, title=f"t{i}", artist="a", permalink_url=f"https://sc/{i}")
              for i in (1, 2))
    changed = Track(id=1, title="other", artist="b", permalink_url="https://sc/1b")
    res = await fdb.import_shows([ImportedShow(W1, W2, 4, [(t1, W1)]),
                                  ImportedShow(W1, W2, None, [(t2, W1), (t1, W1)]),
                                  ImportedShow(W2, W3, None, [(changed, W2)])])
    assert (res.shows_added, res.shows_present, res.tracks_added) == (2, 1, 3)
    first = await fdb.show_at(W1 + timedelta(hours=1))
    assert first is not None and [t.track.id for t in first.tracks] == [1, 2]
    assert first.episode == 4
    second = await fdb.show_at(W2 + timedelta(hours=1))
    assert second is not None and second.tracks[0].track.title == "t1"  # stored data wins


async def test_the_reader_connection_cannot_write(fdb: Database) -> None:
    reader = fdb._reader
    assert reader is not fdb._conn
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await reader.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    async with reader.execute("PRAGMA journal_mode") as cur:
        assert await cur.fetchone() == ("wal",)


async def test_close_closes_both_even_when_one_fails(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    db = await Database.open(str(tmp_path / "ntrbot.db"), TZ)
    reader, writer = db._reader, db._conn
    real_close = reader.close

    async def failing_close() -> None:
        await real_close()
        raise sqlite3.OperationalError("close failed")

    monkeypatch.setattr(reader, "close", failing_close)
    with pytest.raises(sqlite3.OperationalError, match="close failed"):
        await db.close()
    # aiosqlite's worker thread ends just after close() returns: join it, bounded
    writer._thread.join(10)
    reader._thread.join(10)
    assert writer._connection is None and not writer._thread.is_alive()
    assert not reader._thread.is_alive()


async def test_open_failure_closes_both(tmp_path: Path) -> None:
    path = tmp_path / "ntrbot.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        await Database.open(str(path), TZ)
    path.unlink()  # nothing holds the file open any more
