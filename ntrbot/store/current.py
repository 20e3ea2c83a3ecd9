"""The current show: the show whose week contains now, cached until a show changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from ntrbot.store.db import Database
from ntrbot.store.models import Show
from ntrbot.weeks import ShowClock


@dataclass(frozen=True)
class CurrentEntry:
    """The current show as last read, valid while `key` = (database generation, start of
    the clock's week) holds; `body` is its JSON (GET /playlist), encoded once."""

    key: tuple[int, datetime]
    show: Show

    @cached_property
    def body(self) -> bytes:
        return json.dumps(self.show.to_json()).encode()


class CurrentShow:
    """The show whose week (by `clock`) contains `now()`, created empty when the poller has
    not made it yet. One entry is cached until a show changes (the database generation
    moves) or the week turns; a read that a write overtook is returned but not cached.
    The one answer for the pages, the API and the IRC commands."""

    def __init__(self, db: Database, clock: ShowClock, now: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._now = now
        self._cached: CurrentEntry | None = None

    async def entry(self) -> CurrentEntry:
        db, now = self._db, self._now()
        start, end = self._clock.week_of(now)
        cached = self._cached
        if cached is not None and cached.key == (db.generation, start):
            return cached
        generation = db.generation
        show = await db.show_at(now)
        if show is None:
            show = await db.show(await db.ensure_show(start, end))
            assert show is not None
        entry = CurrentEntry((generation, start), show)
        if generation == db.generation:
            self._cached = entry
        return entry

    async def show(self) -> Show:
        return (await self.entry()).show
