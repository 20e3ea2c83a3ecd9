"""Outgoing PRIVMSG queue: announces ahead of replies, flood bucket, expiry, one send each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ntrbot.irc.flood import TokenBucket

log = logging.getLogger("ntrbot.irc")

Status = Literal["sent", "queued", "failed"]


@dataclass
class Delivery:
    """What became of one say(): the state at return time and a future for the end state."""

    status: Status
    detail: str
    line: str
    outcome: asyncio.Future[str] = field(repr=False)


def done_future(value: str) -> asyncio.Future[str]:
    """An already resolved outcome (needs a running loop)."""
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


@dataclass(eq=False)
class SendItem:
    """One line waiting to go out; `outcome` resolves sent / expired / failed exactly once."""

    target: str
    line: str
    outcome: asyncio.Future[str]
    priority: bool
    expiry: asyncio.TimerHandle | None = None

    def finish(self, result: str) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        if not self.outcome.done():
            self.outcome.set_result(result)


class SendQueue:
    """Two FIFOs (priority first) drained by run() through a token bucket.

    An item leaves the queue before it is written, so it is never written twice; an item
    still queued when its freshness runs out resolves "expired" and is dropped.
    """

    def __init__(self, bucket: TokenBucket, max_normal: int = 40) -> None:
        self.bucket = bucket
        self.max_normal = max_normal
        self._prio: deque[SendItem] = deque()
        self._normal: deque[SendItem] = deque()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._prio) + len(self._normal)

    def put(self, target: str, line: str, *, priority: bool, fresh_for: float) -> SendItem | None:
        """Queue a line; None when the (non-priority) queue is full."""
        loop = asyncio.get_running_loop()
        if not priority and len(self._normal) >= self.max_normal:
            log.warning("IRC reply queue full; dropping a line to %s", target)
            return None
        item = SendItem(target, line, loop.create_future(), priority)
        item.expiry = loop.call_later(max(0.0, fresh_for), self._expire, item)
        (self._prio if priority else self._normal).append(item)
        self.wake()
        return item

    def send_now(self, target: str, line: str, *, priority: bool, ready: Callable[[str], bool],
                 write: Callable[[str, str], None]) -> SendItem | None:
        """Write at once, skipping the queue task's wake-up, when nothing is queued ahead of
        the line, `target` is ready and the bucket has a token; None otherwise."""
        if self._prio or (not priority and self._normal) or not ready(target):
            return None
        if self.bucket.delay() > 0 or not self.bucket.try_take():
            return None
        item = SendItem(target, line, asyncio.get_running_loop().create_future(), priority)
        try:
            write(target, line)
        except Exception as exc:
            log.warning("IRC send to %s failed: %s", target, exc)
            item.finish("failed")
            return item
        item.finish("sent")
        return item

    def wake(self) -> None:
        """Re-check readiness now (call after connect/join)."""
        self._wake.set()

    def _remove(self, item: SendItem) -> None:
        for q in (self._prio, self._normal):
            with contextlib.suppress(ValueError):
                q.remove(item)

    def _expire(self, item: SendItem) -> None:
        self._remove(item)
        if not item.outcome.done():
            log.warning("IRC line to %s expired unsent: %.80s", item.target, item.line)
        item.finish("expired")

    def fail_all(self) -> None:
        for q in (self._prio, self._normal):
            while q:
                q.popleft().finish("failed")

    def _next(self, ready: Callable[[str], bool]) -> SendItem | None:
        for q in (self._prio, self._normal):
            for item in q:
                if ready(item.target):
                    return item
        return None

    async def run(self, ready: Callable[[str], bool],
                  write: Callable[[str, str], None]) -> None:
        """Forever: write the first ready item when the bucket allows (cancel to stop)."""
        while True:
            item = self._next(ready)
            if item is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            delay = self.bucket.delay()
            if delay > 0:
                # Wake early on new items so that a fresh announce jumps the queue.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            self.bucket.try_take()
            self._remove(item)
            try:
                write(item.target, item.line)
            except Exception as exc:  # never let the sender die
                log.warning("IRC send to %s failed: %s", item.target, exc)
                item.finish("failed")
                continue
            item.finish("sent")
