"""Host edits (add, remove, move, episode) survive later polls that bring new likes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ntrbot.soundcloud.poller import Poller
from ntrbot.store.db import Database
from ntrbot.store.models import Track
from ntrbot.weeks import ShowClock
from tests.support.memory_soundcloud import MemorySoundCloud
from tests.support.polling import NOW, WEEK, like, make_poller, titles

Polled = tuple[Database, MemorySoundCloud, Poller]  # the `polled` fixture


@pytest.fixture
async def polled(db: Database, clock: ShowClock) -> Polled:
    sc = MemorySoundCloud([like(i, WEEK + timedelta(hours=i)) for i in (1, 2, 3)])
    poller = make_poller(db, sc, clock)
    await poller.poll_now()
    return db, sc, poller


async def show_id(db: Database) -> int:
    sid = await db.show_id_at(NOW)
    assert sid is not None
    return sid


@pytest.mark.parametrize(("edit", "expected"), [
    ("add", ["Title 1", "Added", "Title 2", "Title 3", "Title 4"]),
    ("remove", ["Title 1", "Title 3", "Title 4"]),
    ("move", ["Title 3", "Title 1", "Title 2", "Title 4"]),
])
async def test_edit_then_new_likes(polled: Polled, edit: str, expected: list[str]) -> None:
    db, sc, poller = polled
    sid = await show_id(db)
    if edit == "add":
        added = Track(77, "Added", "Someone", "https://soundcloud.com/x/added")
        assert await db.add_track(sid, added, NOW, position=2) == 2
    elif edit == "remove":
        assert await db.remove_track(sid, 2, NOW) == 2
    else:
        assert await db.move_track(sid, 3, 1)
    sc.likes = [*sc.likes, like(4, WEEK + timedelta(hours=4))]
    await poller.poll_now()
    await poller.poll_now()
    assert await titles(db, NOW) == expected


async def test_removed_track_stays_removed_even_if_still_liked(polled: Polled) -> None:
    db, _, poller = polled
    await db.remove_track(await show_id(db), 1, NOW)
    await poller.poll_now()
    assert await titles(db, NOW) == ["Title 2", "Title 3"]


async def test_manual_add_is_not_dropped_for_not_being_liked(polled: Polled) -> None:
    db, sc, poller = polled
    await db.add_track(await show_id(db), Track(88, "Manual", "A", "https://x/y"), NOW)
    sc.likes = sc.likes[:1]  # the host unliked 2 and 3
    await poller.poll_now()
    assert await titles(db, NOW) == ["Title 1", "Manual"]


async def test_adding_a_track_twice_is_refused(polled: Polled) -> None:
    db, _, _ = polled
    with pytest.raises(ValueError, match="already"):
        await db.add_track(await show_id(db), Track(1, "T", "A", "https://x"), NOW)


async def test_edit_out_of_range(polled: Polled) -> None:
    db, _, _ = polled
    sid = await show_id(db)
    assert await db.remove_track(sid, 9, NOW) is None
    assert not await db.move_track(sid, 1, 9)


async def test_episode_numbers_follow_the_previous_show(db: Database, clock: ShowClock) -> None:
    first = clock.week_of(NOW)
    sid = await db.ensure_show(*first)
    await db.set_episode(sid, 41)
    second = clock.week_of(first[1])
    nxt = await db.show(await db.ensure_show(*second))
    assert nxt is not None and nxt.episode == 42
    third = await db.show(await db.ensure_show(*clock.week_of(second[1])))
    assert third is not None and third.episode == 43


async def test_announcements_follow_their_track_through_edits(polled: Polled) -> None:
    db, _, _ = polled
    sid = await show_id(db)
    ann = await db.announcements.record_announcement(sid, 3, 3, "Now Playing: Song #3", NOW,
                                                     "t", "sent")
    assert await db.move_track(sid, 3, 1)
    assert (await db.announcements.first_announcement(sid, 1)) is not None  # track 3 is #1 now
    # #3 is track 2, never announced
    assert (await db.announcements.first_announcement(sid, 3)) is None
    history = await db.announcements.for_show(sid)
    assert [(a.id, a.position) for a in history] == [(ann, 1)]
    await db.remove_track(sid, 1, NOW)
    assert [(a.id, a.position) for a in await db.announcements.for_show(sid)] == [(ann, 3)]
