"""The SoundCloud poller: turns the host's likes into weekly playlists, incrementally."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ntrbot.events import EventBus
from ntrbot.retry import Schedule
from ntrbot.store.db import Database
from ntrbot.store.models import Like, Track
from ntrbot.store.playlists import Entry
from ntrbot.weeks import ShowClock, utcnow

if TYPE_CHECKING:
    from ntrbot.soundcloud.client import SoundCloudApi

log = logging.getLogger(__name__)
SYNCED_KEY = "synced_week_start"
#: After a failed poll the next comes sooner: 30 s, doubling, at most 8 minutes.
FAILURE_BACKOFF = Schedule(30.0, 2.0, 480.0)

Progress = Callable[[int, int], None]  # (pages fetched, likes seen so far)


class EmptyLikesError(RuntimeError):
    """SoundCloud answered with an empty likes collection where likes are stored."""


@dataclass
class PollResult:
    """What one poll did."""

    requests: int = 0
    pages: int = 0
    likes_seen: int = 0
    weeks_changed: int = 0
    new_tracks: int = 0
    writes: int = 0
    current_tracks: int = 0

    def summary(self) -> str:
        return (f"{self.likes_seen} likes in {self.pages} page(s), {self.requests} request(s); "
                f"{self.weeks_changed} show(s) changed, {self.new_tracks} new track(s); "
                f"current show has {self.current_tracks} track(s)")


class Poller:
    """Polls on a schedule (faster while the show is live) and on demand."""

    def __init__(self, db: Database, soundcloud: SoundCloudApi, clock: ShowClock, *,
                 username: str, backfill_weeks: int, interval: float, live_interval: float,
                 events: EventBus | None = None,
                 now: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._sc = soundcloud
        self._clock = clock
        self._username = username
        self._backfill_weeks = backfill_weeks
        self._interval = interval
        self._live_interval = live_interval
        self._events = events
        self._now = now
        self._user_id: int | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failures = 0
        self._empty_answers = 0
        self.last_success: datetime | None = None
        self.last_error: str | None = None
        self.last_result: PollResult | None = None
        self.next_poll: datetime | None = None
        self.polls: Counter[str] = Counter({"ok": 0, "error": 0})  # for /metrics

    def state(self) -> dict[str, Any]:
        """JSON-able poller state for /health and the dashboard."""
        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "last_success": iso(self.last_success), "last_error": self.last_error,
            "next_poll": iso(self.next_poll), "running": self._lock.locked(),
            "live": self._clock.is_live(self._now()),
            "last_result": asdict(self.last_result) if self.last_result else None,
        }

    def interval_at(self, now: datetime) -> float:
        """Seconds until the next scheduled poll."""
        if self._clock.is_live(now):
            return self._live_interval
        until_live = (self._clock.next_live_start(now) - now).total_seconds()
        return max(1.0, min(self._interval, until_live + 1))

    async def poll_now(self, progress: Progress | None = None) -> PollResult:
        """Poll once, now (waits for a poll already running). Raises on failure."""
        async with self._lock:
            try:
                result = await self._poll(progress)
            except Exception as exc:
                self.last_error = f"{self._now().isoformat()}: {exc}"
                self._failures += 1
                self.polls["error"] += 1
                self._publish()
                raise
            self.last_success = self._now()
            self.last_error = None
            self.last_result = result
            self._failures = 0
            self.polls["ok"] += 1
            self._publish()
            return result

    def wake(self) -> None:
        """Make the background loop poll now."""
        self._wake.set()

    async def run(self) -> None:
        """Poll forever on schedule; one log line per poll, no exception escapes."""
        while True:
            try:
                result = await self.poll_now()
                log.info("poll ok: %s", result.summary())
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one clear line; the next poll may recover
                log.warning("poll failed: %s", exc)
            delay = self.interval_at(self._now())
            if self._failures:
                delay = min(delay, FAILURE_BACKOFF.ceiling(self._failures - 1))
            self.next_poll = datetime.fromtimestamp(self._now().timestamp() + delay,
                                                    self._now().tzinfo)
            self._publish()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    def _publish(self) -> None:
        if self._events is not None:
            self._events.publish("poller", {"poller": self.state()})

    async def _poll(self, progress: Progress | None) -> PollResult:
        result = PollResult()
        before_requests = self._sc.requests_made
        writes_before = self._db.writes
        now = self._now()
        current = self._clock.week_of(now)
        synced = await self._db.get_meta(SYNCED_KEY)
        if synced is None:
            oldest = current
            for _ in range(self._backfill_weeks - 1):
                oldest = self._clock.previous_week(oldest[0])
        else:
            oldest = self._clock.week_of(min(datetime.fromisoformat(synced), current[0]))
        if self._user_id is None:
            self._user_id = await self._sc.resolve_user(self._username)
        likes: list[Like] = []
        seen_any = False
        async for page in self._sc.iter_like_pages(self._user_id):
            result.pages += 1
            done = False
            seen_any = seen_any or bool(page)
            for like in page:
                if like.liked_at < oldest[0]:
                    done = True
                    break
                likes.append(like)
            result.likes_seen = len(likes)
            if progress:
                progress(result.pages, len(likes))
            if done:
                break
        if seen_any:
            self._empty_answers = 0
        elif await self._db.entries_since(current[0]) and self._empty_answers == 0:
            # One empty answer for a host who has likes is most likely a SoundCloud glitch,
            # not "unliked everything": keep the live playlist (and the host's edits). Only
            # a second empty answer in a row is believed.
            self._empty_answers += 1
            raise EmptyLikesError("SoundCloud returned no likes at all; the stored playlist "
                                  "is kept unless the next poll says the same")
        await self._store(likes, oldest, current, result)
        if synced is None or datetime.fromisoformat(synced) != current[0]:
            await self._db.set_meta(SYNCED_KEY, current[0].isoformat())
        result.requests = self._sc.requests_made - before_requests
        result.writes = self._db.writes - writes_before
        return result

    async def _store(self, likes: list[Like], oldest: tuple[datetime, datetime],
                     current: tuple[datetime, datetime], result: PollResult) -> None:
        """Compare with what is stored and write only the weeks that changed."""
        by_week: dict[datetime, list[Like]] = {}
        for like in sorted(likes, key=lambda lk: lk.liked_at):
            by_week.setdefault(self._clock.week_of(like.liked_at)[0], []).append(like)
        stored = await self._db.entries_since(oldest[0])
        removed = await self._db.removed_since(oldest[0])
        weeks: list[tuple[datetime, datetime]] = []
        week = current
        while week[0] >= oldest[0]:
            weeks.append(week)
            week = self._clock.previous_week(week[0])
        changed: dict[tuple[datetime, datetime], list[Entry]] = {}
        current_exists = await self._db.show_id_at(current[0]) is not None
        for start, end in weeks:
            have = stored.get(start, [])
            want = merge_week(have, by_week.get(start, []), removed.get(start, set()),
                              finished=start != current[0])
            if start == current[0]:
                result.current_tracks = len(want)
            if want != have or (start == current[0] and not current_exists):
                changed[(start, end)] = want
        known = await self._db.tracks_by_id({lk.track.id for lk in likes})
        tracks: dict[int, Track] = {}
        for like in likes:
            if known.get(like.track.id) != like.track:
                tracks[like.track.id] = like.track
        result.new_tracks = sum(1 for tid in tracks if tid not in known)
        result.weeks_changed = len(changed)
        if changed or tracks:
            await self._db.save_playlists(list(tracks.values()), changed)
            if self._events is not None:
                for start, _ in changed:
                    show_id = await self._db.show_id_at(start)
                    self._events.publish("playlist", {"show_id": show_id})


def merge_week(have: list[Entry], likes: list[Like], removed: set[int], *,
               finished: bool) -> list[Entry]:
    """A week's playlist after a poll.

    Stored order is kept (so the host's moves survive); tracks the host added by hand stay;
    tracks the host removed never come back. The current week drops tracks that are no longer
    liked; a finished week keeps everything it had. New likes are appended in like order.
    """
    liked: dict[int, datetime] = {}
    for like in likes:
        liked.setdefault(like.track.id, like.liked_at)
    kept = [e for e in have if finished or e[2] == "manual" or e[0] in liked]
    kept_ids = {e[0] for e in kept}
    return kept + [(tid, at, "like") for tid, at in liked.items()
                   if tid not in kept_ids and tid not in removed]
