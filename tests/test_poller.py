"""Poller logic: week assignment, incremental stop, frozen past weeks, no needless writes."""

from __future__ import annotations

import asyncio
import functools
from datetime import timedelta

import pytest

from ntrbot.store.db import Database
from ntrbot.weeks import ShowClock
from tests.support.memory_soundcloud import MemorySoundCloud
from tests.support.net import wait_until
from tests.support.polling import NOW, WEEK, like, make_poller, titles


async def test_backfill_groups_likes_into_weeks_in_like_order(db: Database,
                                                              clock: ShowClock) -> None:
    sc = MemorySoundCloud([
        like(1, WEEK + timedelta(hours=1)), like(2, WEEK + timedelta(hours=3)),
        like(3, WEEK - timedelta(hours=1)), like(4, WEEK - timedelta(days=6)),
        like(5, WEEK - timedelta(days=8)),  # two weeks back: outside the backfill
    ])
    result = await make_poller(db, sc, clock).poll_now()
    assert await titles(db, NOW) == ["Title 1", "Title 2"]
    assert await titles(db, WEEK - timedelta(hours=1)) == ["Title 4", "Title 3"]
    assert await db.show_at(WEEK - timedelta(days=8)) is None
    assert result.current_tracks == 2 and result.new_tracks == 4
    current = await db.show_at(NOW)
    assert current is not None and [t.position for t in current.tracks] == [1, 2]


async def test_steady_state_is_one_request_and_no_writes(db: Database, clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(i, WEEK + timedelta(hours=i)) for i in range(1, 3)]
                          + [like(100 + i, WEEK - timedelta(days=1, hours=i))
                             for i in range(20)], page_size=200)
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    sc.requests_made = 0
    writes = db.writes
    result = await poller.poll_now()
    assert sc.requests_made == 1 and result.requests == 1
    assert db.writes == writes and result.writes == 0


async def test_incremental_poll_stops_paging_at_older_weeks(db: Database,
                                                            clock: ShowClock) -> None:
    old = [like(100 + i, WEEK - timedelta(days=1, minutes=i)) for i in range(30)]
    sc = MemorySoundCloud([like(1, WEEK + timedelta(hours=1))] + old, page_size=3)
    poller = make_poller(db, sc, clock, backfill=1)
    await poller.poll_now()
    assert sc.requests_made <= 2  # resolve + the first page, which already reaches last week


async def test_current_week_mirrors_likes_and_past_weeks_are_kept(db: Database,
                                                                  clock: ShowClock) -> None:
    past = like(9, WEEK - timedelta(days=2))
    sc = MemorySoundCloud([like(1, WEEK + timedelta(hours=1)),
                           like(2, WEEK + timedelta(hours=2)), past])
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    sc.likes = [like(2, WEEK + timedelta(hours=2)), like(3, WEEK + timedelta(hours=5))]
    await poller.poll_now()
    assert await titles(db, NOW) == ["Title 2", "Title 3"]  # unliked 1 is gone this week
    # The host unliked last week's track 9: the finished week keeps it.
    assert await titles(db, WEEK - timedelta(days=2)) == ["Title 9"]


async def test_week_rollover_finishes_last_week(db: Database, clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(1, WEEK + timedelta(hours=1))])
    await make_poller(db, sc, clock).poll_now()
    # The bot was down over the week change; a like made late last week is only seen now.
    later = NOW + timedelta(days=7)
    sc.likes = [like(3, later - timedelta(hours=1)),
                like(2, WEEK + timedelta(days=6)), like(1, WEEK + timedelta(hours=1))]
    await make_poller(db, sc, clock, now=later).poll_now()
    assert await titles(db, NOW) == ["Title 1", "Title 2"]
    assert await titles(db, later) == ["Title 3"]


async def test_failed_poll_touches_nothing(db: Database, clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(i, WEEK + timedelta(hours=i)) for i in range(1, 8)])
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    before = await titles(db, NOW)
    writes = db.writes
    sc.likes = [like(50, WEEK + timedelta(hours=30))] + sc.likes[2:]
    sc.fail = RuntimeError("page 2 went missing")
    with pytest.raises(RuntimeError):
        await poller.poll_now()
    assert await titles(db, NOW) == before and db.writes == writes
    assert poller.state()["last_error"] and "page 2" in poller.state()["last_error"]
    sc.fail = None
    await poller.poll_now()
    assert poller.state()["last_error"] is None
    assert "Title 50" in await titles(db, NOW)


async def test_changed_track_metadata_is_updated(db: Database, clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(1, WEEK + timedelta(hours=1))])
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    sc.likes = [like(1, WEEK + timedelta(hours=1), title="Renamed")]
    await poller.poll_now()
    assert await titles(db, NOW) == ["Renamed"]


async def test_empty_current_week_still_makes_a_show(db: Database, clock: ShowClock) -> None:
    await make_poller(db, MemorySoundCloud([]), clock).poll_now()
    show = await db.show_at(NOW)
    assert show is not None and show.tracks == []


def test_interval_is_faster_while_live(clock: ShowClock) -> None:
    poller = make_poller(None, MemorySoundCloud([]), clock)  # type: ignore[arg-type]
    assert poller.interval_at(WEEK + timedelta(hours=1)) == 60
    assert poller.interval_at(WEEK + timedelta(days=2)) == 3600
    # Shortly before the show the next poll is at the show start, not an hour later.
    assert poller.interval_at(WEEK - timedelta(minutes=10)) == pytest.approx(601)


async def test_empty_answer_keeps_the_current_playlist(db: Database, clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(1, WEEK + timedelta(hours=1)), like(2, WEEK + timedelta(hours=2))])
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    sc.likes = []
    with pytest.raises(RuntimeError, match="no likes at all"):
        await poller.poll_now()
    assert await titles(db, NOW) == ["Title 1", "Title 2"]
    assert "no likes at all" in poller.state()["last_error"]
    await poller.poll_now()  # a second empty answer in a row is believed
    assert await titles(db, NOW) == []


async def test_failed_polls_retry_after_30_s_doubling_up_to_8_minutes(db: Database,
                                                                      clock: ShowClock) -> None:
    sc = MemorySoundCloud([like(i, WEEK + timedelta(hours=i)) for i in range(1, 8)])
    sc.fail = RuntimeError("SoundCloud is down")
    poller = make_poller(db, sc, clock)  # NOW is outside the live window: hourly polls
    task = asyncio.create_task(poller.run())
    waits: list[float] = []
    try:
        for n in range(1, 8):
            await wait_until(functools.partial(lambda n: poller.polls["error"] == n, n), 10,
                             f"failed poll {n}")
            assert poller.next_poll is not None
            waits.append((poller.next_poll - NOW).total_seconds())
            if n == 7:
                sc.fail = None
            poller.wake()
        await wait_until(lambda: poller.polls["ok"] == 1, 10, "the poll after the outage")
        assert poller.next_poll is not None
        waits.append((poller.next_poll - NOW).total_seconds())
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert waits == [30, 60, 120, 240, 480, 480, 480, 3600]
