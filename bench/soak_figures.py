"""The soak's figures: what a night does, what was measured each night, the goals, /metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MB = 1024 * 1024
# "flat" after night 2: the last night may be this much above night 2
TOLERANCE = {"fds": 2, "tasks": 2, "threads": 1}


@dataclass
class Counts:
    """What one night does (the defaults are the benchmark's; the suite runs fewer)."""

    announces: int = 12
    queued_in_outage: int = 3  # of the announces, made while the IRC server is down
    delayed: int = 3  # of the announces, with a 1.5 s delay
    cancelled: int = 2  # of the announces, with a 5 s delay and cancelled at once
    public: int = 150
    reads: int = 200
    dashboards: int = 2
    drops: int = 1  # blackholed link drops with an unconfirmed announce


@dataclass
class Night:
    rss: float = math.nan
    fds: int = 0
    threads: int = 0
    tasks: int = 0
    db_bytes: int = 0
    wal_bytes: int = 0
    lag_p99: float = math.nan
    rejoin: float = math.nan
    lines: int = 0  # announce lines seen in the channel so far (all nights)
    delivered: int = 0  # irc outputs recorded delivered so far (all nights)
    not_final: int = 0
    announced: int = 0


@dataclass
class Soak:
    nights: list[Night] = field(default_factory=list)

    def goals(self, hold: float) -> list[tuple[str, bool, str]]:
        """(goal, met, the figures) for each goal of issue 22 item 6."""
        n = self.nights
        base, last = (n[1], n[-1]) if len(n) >= 3 else (n[0], n[-1])
        out = [
            ("RSS growth after night 2 <= 2 MB", last.rss - base.rss <= 2.0,
             f"{base.rss:.1f} -> {last.rss:.1f} MB"),
        ]
        for what in ("fds", "tasks", "threads"):
            a, b = getattr(base, what), getattr(last, what)
            out.append((f"{what} flat after night 2 (+{TOLERANCE[what]})",
                        b - a <= TOLERANCE[what], f"{a} -> {b}"))
        wal = max(x.wal_bytes for x in n)
        out += [
            ("WAL <= 8 MB", wal <= 8 * MB, f"max {wal / MB:.2f} MB"),
            ("every announcement final", all(x.not_final == 0 for x in n),
             f"{sum(x.not_final for x in n)} not final of {sum(x.announced for x in n)}"),
            ("lines in channel == delivered", all(x.lines == x.delivered for x in n),
             f"{n[-1].lines} lines, {n[-1].delivered} delivered"),
            (f"every rejoin <= 3 s (+{hold:g} s server hold)",
             all(x.rejoin <= 3.0 + hold for x in n),
             "max " + f"{max(x.rejoin for x in n):.2f} s"),
        ]
        return out


def parse_metrics(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def lag_p99(before: dict[str, float], after: dict[str, float]) -> float:
    """The p99 of the loop-lag probes between two scrapes: the bucket bound it falls in."""
    prefix = 'ntrbot_event_loop_lag_seconds_bucket{le="'
    buckets = sorted((float(k[len(prefix):-2]), after[k] - before.get(k, 0.0))
                     for k in after if k.startswith(prefix))
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= 0.99 * total:
            return bound
    return math.nan
