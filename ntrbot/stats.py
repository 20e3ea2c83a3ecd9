"""What /metrics reads that nothing else keeps: login failures, the event-loop lag probe."""

from __future__ import annotations

import asyncio
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Event-loop lag buckets (seconds): a healthy loop answers in well under 10 ms.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Click → delivered buckets (seconds): the server's echo usually comes within 100 ms.
DELIVERY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0)


class Histogram:
    """Counts per upper bound (Prometheus `le`: value <= bound), their sum and count."""

    def __init__(self, bounds: Sequence[float], values: Iterable[float] = ()) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.sum = 0.0
        self.count = 0
        for value in values:
            self.observe(value)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, float]]:
        """[(le, observations <= le), ..., ("+Inf", count)] as Prometheus exposes them."""
        out, running = [], 0
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, float(running)))
        return out


class LoopLag:
    """A probe task: sleeps `interval` again and again; how late each wake-up comes is the
    event loop's lag (time spent in callbacks that never yield)."""

    def __init__(self, interval: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self.histogram = Histogram(LAG_BUCKETS)
        self.last = 0.0

    def observe(self, lag: float) -> None:
        self.last = lag
        self.histogram.observe(lag)

    async def run(self) -> None:
        while True:
            started = self._clock()
            await asyncio.sleep(self.interval)
            self.observe(max(0.0, self._clock() - started - self.interval))


@dataclass
class AppStats:
    """Per-app counters of events that leave no other trace, and the lag probe."""

    login_failures: Counter[str] = field(default_factory=Counter)  # invalid, throttled
    loop_lag: LoopLag = field(default_factory=LoopLag)
    #: the Prometheus exposition (ntrbot.metrics.Exporter), built on the first scrape so
    #: that a bot nobody scrapes never loads prometheus-client
    exporter: Any = None


@dataclass
class Snapshot:
    """Everything one /metrics scrape reports, read from where it already lives."""

    #: (output, state, count) of every announce output in a final state, ever recorded
    deliveries: list[tuple[str, str, int]]
    #: seconds from each announce (or its air time, with a delay) to its first IRC
    #: channel's `delivered`
    delivery_seconds: list[float]
    irc_connected: bool
    reconnects: dict[str, int]
    dead_links: int
    join_refusals: dict[str, int]
    polls: dict[str, int]
    websockets: dict[str, int]  # path -> open connections
    login_failures: dict[str, int]
    loop_lag: LoopLag
    tasks: int = field(default_factory=lambda: len(asyncio.all_tasks()))
    threads: int = field(default_factory=lambda: os_threads())


def os_threads() -> int:
    """The process's threads as the kernel counts them (Python's own count elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return threading.active_count()
