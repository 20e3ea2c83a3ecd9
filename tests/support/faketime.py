"""A clock and a sleep for the announcer that tests move by hand (or that never wait)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeTime:
    """`now()` and `sleep(seconds)` on a clock of its own, starting at `start`.

    With `auto` a sleep moves the clock on and returns at once (a wait that never waits);
    without it a sleep waits until `advance` has moved the clock past its end.
    """

    def __init__(self, start: datetime | None = None, *, auto: bool = False) -> None:
        self.current = start or datetime.now(UTC)
        self.auto = auto
        self.sleeps: list[float] = []
        self._waiting: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds <= 0 or self.auto:
            self.current += timedelta(seconds=max(seconds, 0.0))
            await asyncio.sleep(0)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((self.current + timedelta(seconds=seconds), done))
        await done

    async def advance(self, seconds: float) -> None:
        """Move the clock on by `seconds` and let every sleep that has ended run."""
        self.current += timedelta(seconds=seconds)
        due = [w for w in self._waiting if w[0] <= self.current]
        self._waiting = [w for w in self._waiting if w[0] > self.current]
        for _, done in due:
            if not done.done():
                done.set_result(None)
        for _ in range(5):
            await asyncio.sleep(0)
