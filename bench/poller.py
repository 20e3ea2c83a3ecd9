"""Poller bench: requests and DB writes for a 5,000-like backfill and a steady-state poll."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from bench.common import header, verdict
from ntrbot.app import USER_AGENT
from ntrbot.soundcloud.client import SoundCloudClient
from ntrbot.soundcloud.poller import Poller
from ntrbot.store.db import Database
from ntrbot.weeks import ShowClock
from tests.support.fake_soundcloud import FakeSoundCloud, make_like

UTC_ZONE = ZoneInfo("UTC")


def likes_for(clock: ShowClock, now: datetime, total: int, weeks: int,
              current: int) -> list[dict[str, object]]:
    """`current` likes in the current week and the rest spread over the `weeks - 1` before."""
    start, _ = clock.week_of(now)
    out: list[dict[str, object]] = []
    span = now - start
    for i in range(current):
        out.append(make_like(1_000_000 + i, start + span * (i + 1) / (current + 1),
                             title=f"Now {i}"))
    older = total - current
    first = start - timedelta(weeks=weeks - 1)
    step = (start - first) / max(older, 1)
    for i in range(older):
        out.append(make_like(2_000_000 + i, first + step * i + timedelta(seconds=1),
                             title=f"Past {i}"))
    return out


def fmt_counts(counts: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)


async def main(total: int, weeks: int, current: int, steady_runs: int) -> None:
    header(f"poller: backfill of {total} likes over {weeks} weeks, then steady state")
    workdir = Path(tempfile.mkdtemp(prefix="ntrbench-poller-"))
    now = datetime.now(UTC)
    clock = ShowClock((now - timedelta(days=3)).weekday(), 0, UTC_ZONE)
    fake = await FakeSoundCloud().start()
    db = await Database.open(str(workdir / "ntrbot.db"), UTC_ZONE)
    http = httpx.AsyncClient(timeout=30, headers={"User-Agent": USER_AGENT})
    try:
        fake.set_likes(likes_for(clock, now, total, weeks, current))
        sc = SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base)
        poller = Poller(db, sc, clock, username=fake.username, backfill_weeks=weeks,
                        interval=3600, live_interval=60)
        fake.reset_requests()
        t0 = time.perf_counter()
        first = await poller.poll_now()
        took = time.perf_counter() - t0
        print(f"backfill: {first.summary()}")
        print(f"  ntrbot counted {first.requests} request(s), {first.writes} DB write "
              f"transaction(s); the stand-in saw: {fmt_counts(fake.counts)}; took {took:.2f} s")
        shows, n_shows = await db.shows(100, 0)
        stored = 0
        for s in shows:
            full = await db.show(s.id)
            stored += len(full.tracks) if full is not None else 0
        print(f"  stored: {n_shows} show(s), {stored} show tracks "
              f"({'all' if stored == total else 'NOT all'} {total} likes)")
        req, wr = [], []
        for _ in range(steady_runs):
            fake.reset_requests()
            t0 = time.perf_counter()
            r = await poller.poll_now()
            took = time.perf_counter() - t0
            req.append(r.requests)
            wr.append(r.writes)
        print(f"steady state ({steady_runs} polls, no new likes, {current} likes this week): "
              f"requests per poll {sorted(set(req))}, DB writes per poll {sorted(set(wr))}; "
              f"last poll took {took * 1e3:.1f} ms; the stand-in saw: {fmt_counts(fake.counts)}")
        print(f"  target 1 request and 0 writes: {verdict(max(req) == 1 and max(wr) == 0)}")
        fake.add_like(make_like(3_000_000, now - timedelta(seconds=5), title="Fresh like"))
        fake.reset_requests()
        r = await poller.poll_now()
        print(f"one new like: {r.requests} request(s), {r.writes} write(s), "
              f"{r.weeks_changed} show changed, {r.new_tracks} new track")
    finally:
        await http.aclose()
        await db.close()
        await fake.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--likes", type=int, default=5000)
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--current", type=int, default=40, help="likes in the current week")
    parser.add_argument("--steady-runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.likes, args.weeks, args.current, args.steady_runs))
