"""Outgoing PRIVMSG queue: announces ahead of replies, flood bucket, expiry, one send each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from ntrbot.deliveries import DeliveryState
from ntrbot.irc.delivery import Delivery
from ntrbot.irc.flood import TokenBucket

log = logging.getLogger("ntrbot.irc")

__all__ = ["SendQueue", "done_future"]


def done_future(value: str) -> asyncio.Future[str]:
    """An already resolved outcome (needs a running loop)."""
    fut: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fut.set_result(value)
    return fut


class SendQueue:
    """Two FIFOs (priority first) drained by run() through a token bucket.

    An item leaves the queue before it is written, so it is never written twice; an item
    still queued when its freshness runs out resolves "expired" and is dropped.
    """

    def __init__(self, bucket: TokenBucket, max_normal: int = 40) -> None:
        self.bucket = bucket
        self.max_normal = max_normal
        self._prio: deque[Delivery] = deque()
        self._normal: deque[Delivery] = deque()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._prio) + len(self._normal)

    def put(self, item: Delivery, *, front: bool = False) -> Delivery | None:
        """Queue a line; None when the (non-priority) queue is full. It expires (state
        `expired`) if still queued at `item.fresh_until`."""
        loop = asyncio.get_running_loop()
        if not item.priority and len(self._normal) >= self.max_normal:
            log.warning("IRC reply queue full; dropping a line to %s", item.target)
            return None
        if item.expiry is not None:
            item.expiry.cancel()
        item.expiry = loop.call_later(max(0.0, item.fresh_until - self.bucket.clock()),
                                      self._expire, item)
        q = self._prio if item.priority else self._normal
        if front:
            q.appendleft(item)
        else:
            q.append(item)
        self.wake()
        return item

    def send_now(self, item: Delivery, *, ready: Callable[[str], bool],
                 write: Callable[[Delivery], None]) -> bool:
        """Write at once, skipping the queue task's wake-up, when nothing is queued ahead of
        the line, its target is ready and the bucket has a token."""
        if self._prio or (not item.priority and self._normal) or not ready(item.target):
            return False
        if self.bucket.delay() > 0 or not self.bucket.try_take():
            return False
        self._write(item, write)
        return True

    @staticmethod
    def _write(item: Delivery, write: Callable[[Delivery], None]) -> None:
        try:
            write(item)
        except Exception as exc:  # never let the sender die
            log.warning("IRC send to %s failed: %s", item.target, exc)
            item.finish(DeliveryState.FAILED, f"could not write to the server: {exc}")

    def wake(self) -> None:
        """Re-check readiness now (call after connect/join)."""
        self._wake.set()

    def _remove(self, item: Delivery) -> None:
        for q in (self._prio, self._normal):
            with contextlib.suppress(ValueError):
                q.remove(item)

    def _expire(self, item: Delivery) -> None:
        self._remove(item)
        if not item.final:
            log.warning("IRC line to %s expired unsent: %.80s", item.target, item.line)
        item.finish(DeliveryState.EXPIRED, "not sent while fresh")

    def fail_all(self, detail: str = "IRC client stopped") -> None:
        for q in (self._prio, self._normal):
            while q:
                q.popleft().finish(DeliveryState.FAILED, detail)

    def fail_target(self, target: str, detail: str, *, key: Callable[[str], str]) -> int:
        """Fail the confirmed lines (announces) queued for `target`: it refused us."""
        failed = [i for q in (self._prio, self._normal) for i in q
                  if i.confirm and key(i.target) == key(target)]
        for item in failed:
            self._remove(item)
            item.finish(DeliveryState.FAILED, detail)
        return len(failed)

    def drop(self, item: Delivery) -> None:
        """Take a line off the queue (it was cancelled)."""
        self._remove(item)

    def _next(self, ready: Callable[[str], bool]) -> Delivery | None:
        for q in (self._prio, self._normal):
            for item in q:
                if item.final:
                    continue
                if ready(item.target):
                    return item
        return None

    async def run(self, ready: Callable[[str], bool],
                  write: Callable[[Delivery], None]) -> None:
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
            if item.expiry is not None:
                item.expiry.cancel()
            self._write(item, write)
