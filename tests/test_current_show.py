"""store/current.py: the one current show (pages, API and IRC commands), cached per
database generation and week."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ntrbot import keys
from ntrbot.settings import Settings
from ntrbot.store.current import CurrentShow
from ntrbot.store.db import Database
from ntrbot.store.models import Track
from ntrbot.weeks import ShowClock
from tests.support.constants import FROZEN_NOW
from tests.support.fakes import FakeIrc
from tests.support.plugin import MakeApp
from tests.support.seed import seed, seed_app


async def test_cached_until_a_show_changes(db: Database, clock: ShowClock) -> None:
    await seed(db, clock)
    current = CurrentShow(db, clock, lambda: FROZEN_NOW)
    first = await current.entry()
    assert [st.track.id for st in first.show.tracks] == [101, 102, 103]
    assert await current.entry() is first  # nothing written: the same entry, body encoded once
    assert first.body is first.body
    await db.set_meta("k", "v")  # touches no show: still valid
    assert await current.entry() is first
    await db.move_track(first.show.id, 3, 1)
    moved = await current.entry()
    assert moved is not first and [st.track.id for st in moved.show.tracks] == [103, 101, 102]
    assert b'"id": 103' in moved.body


async def test_a_new_week_is_created_empty_when_the_clock_turns(db: Database,
                                                                clock: ShowClock) -> None:
    current_id, _ = await seed(db, clock)
    at = [FROZEN_NOW]
    current = CurrentShow(db, clock, lambda: at[0])
    assert (await current.show()).id == current_id
    at[0] = FROZEN_NOW + timedelta(days=7)
    later = await current.show()
    assert later.id != current_id and later.tracks == []
    assert later.week_start == clock.week_of(at[0])[0]
    assert await current.show() is later


async def test_pages_api_and_irc_read_the_one_current_show(
        make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
        irc: FakeIrc) -> None:
    app = make_app(make_settings(), irc)
    client = await aiohttp_client(app)
    await seed_app(app)
    current = app[keys.CURRENT_SHOW]
    show = await current.show()
    await app[keys.DB].add_track(show.id, Track(909, "Added", "Host",
                                                "https://soundcloud.com/h/a"), FROZEN_NOW)
    body = await (await client.get("/playlist")).json()
    assert body["id"] == show.id and body["tracks"][-1]["id"] == 909  # the write is seen
    assert irc.commands is not None
    irc_show = await irc.commands.services.current_show()  # what !song and !playlist read
    assert irc_show is (await current.show())  # the one cached entry
    assert irc_show.tracks[-1].track.id == 909
