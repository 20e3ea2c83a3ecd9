"""One outgoing IRC line and what became of it: queued, sent, then delivered or not."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from ntrbot.deliveries import FINAL, DeliveryState

log = logging.getLogger("ntrbot.irc")

class Delivery:
    """A line for one target. `state` moves queued -> sent -> delivered | failed | expired.

    A line with `confirm` is only `delivered` once the server confirmed it (echo or PING
    fence); without it (command replies) being written is the end: `sent` is final then.
    `done` resolves with the final state; `on_change` callbacks see every change.
    """

    def __init__(self, target: str, line: str, *, priority: bool = False,
                 confirm: bool = False, fresh_for: float = 180.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self.line = line
        self.priority = priority
        self.confirm = confirm
        self.state = DeliveryState.QUEUED
        self.detail = ""
        self.at = datetime.now(UTC)
        self.attempts = 0  # how often it was written
        self.fresh_until = clock() + max(0.0, fresh_for)
        self.expiry: asyncio.TimerHandle | None = None
        self.timer: asyncio.TimerHandle | None = None  # confirmation deadline
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._listeners: list[Callable[[Delivery], None]] = []

    def __repr__(self) -> str:
        return f"<Delivery {self.target} {self.state} {self.detail!r}>"

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def status(self) -> str:
        """The state (the name earlier versions used)."""
        return self.state

    def on_change(self, cb: Callable[[Delivery], None]) -> None:
        self._listeners.append(cb)

    def set(self, state: DeliveryState, detail: str = "", at: datetime | None = None) -> None:
        """Move to `state`; a final state is never left again."""
        if self.final:
            return
        self.state, self.detail = DeliveryState(state), detail
        self.at = at or datetime.now(UTC)
        if self.final or (state == DeliveryState.SENT and not self.confirm):
            for handle in (self.expiry, self.timer):
                if handle is not None:
                    handle.cancel()
            if not self.done.done():
                self.done.set_result(state)
        for cb in list(self._listeners):
            try:
                cb(self)
            except Exception:
                log.exception("IRC delivery listener failed")

    def finish(self, state: DeliveryState, detail: str = "") -> None:
        """Shorthand used by the send queue: written (`sent`), `expired` or `failed`."""
        self.set(state, detail)

    async def wait(self, seconds: float) -> str:
        """The state once final, or the current one after `seconds`."""
        if not self.done.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.done), seconds)
        return self.state


def finished(target: str, line: str, state: DeliveryState, detail: str) -> Delivery:
    """An already final delivery (needs a running loop)."""
    d = Delivery(target, line)
    d.set(state, detail)
    return d
