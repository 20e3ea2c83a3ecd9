"""The Announcer: every announce to every output at once (or at its air time), followed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ntrbot.announcing.message import (
    AlreadyAnnounced,
    AnnounceResult,
    NotFound,
    format_announce,
)
from ntrbot.announcing.outputs import Airing, Output, stopped
from ntrbot.announcing.tracking import DeliveryTracker
from ntrbot.deliveries import DeliveryState, OutputKind
from ntrbot.store.models import Announcement, OutputDelivery, ShowTrack
from ntrbot.weeks import utcnow

if TYPE_CHECKING:
    from ntrbot.announcing.outputs.irc import IrcOutputs
    from ntrbot.events import EventBus
    from ntrbot.settings import Settings
    from ntrbot.store.db import Database

log = logging.getLogger("ntrbot.announce")

DELAY_KEY = "announce_delay_seconds"  # meta: tonight's delay, set from the dashboard
__all__ = ["Announcer"]
QUEUED, EXPIRED, CANCELLED = DeliveryState.QUEUED, DeliveryState.EXPIRED, DeliveryState.CANCELLED


class Announcer:
    """The one path every announce takes (dashboard, admin API, IRC `!announce`).

    An announce goes to every output at once: each IRC announce channel (`irc`), then
    each of `outputs` (the relays, the webhooks). With a delay (NTR_ANNOUNCE_DELAY_SECONDS,
    tonight's value from the dashboard, or the request's own) it is recorded at once with
    every output `queued` and `airs_at`, and goes out then unless cancelled first; a
    pending announce is kept in the database, so after a restart it still airs if it is
    fresh, else it is recorded `expired`. A follow-up task records every delivery change
    and publishes it. `clock` and `sleep` are the time it waits by (tests pass their own).
    """

    def __init__(self, db: Database, irc: IrcOutputs, outputs: Sequence[Output],
                 events: EventBus, settings: Settings, *,
                 clock: Callable[[], datetime] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 confirm_wait: float = 2.0) -> None:
        self.db, self.irc, self.events, self.settings = db, irc, events, settings
        self.outputs: list[Output] = [irc, *outputs]
        self._rules = {kind: o for o in self.outputs for kind in o.kinds}
        self._clock = clock or utcnow
        self._sleep = sleep
        self.confirm_wait = confirm_wait
        self._lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()
        self._trackers: dict[int, DeliveryTracker] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._chain: asyncio.Task[None] | None = None  # the last one scheduled
        self._last_airs_at: datetime | None = None
        self._next_id: int | None = None
        self._delay: float | None = None  # tonight's delay; None: the setting

    # --- the delay ---------------------------------------------------------------

    @property
    def delay(self) -> float:
        """Seconds an announce waits before it airs (tonight's value, else the setting)."""
        return self.settings.announce_delay_seconds if self._delay is None else self._delay

    async def set_delay(self, seconds: float | None) -> None:
        """Tonight's delay, kept in the database until changed; None: back to the setting."""
        self._delay = seconds
        await self.db.set_meta(DELAY_KEY, "" if seconds is None else repr(float(seconds)))

    async def start(self) -> None:
        """Load tonight's delay and take over the announces still waiting for their air time."""
        stored = await self.db.get_meta(DELAY_KEY)
        with contextlib.suppress(ValueError):
            self._delay = float(stored) if stored else None
        now = self._clock()
        await self._finish_cut_off()
        for ann in await self.db.announcements.pending_announcements():
            assert ann.airs_at is not None
            late = (now - ann.airs_at).total_seconds()
            tracker = self._track(ann)
            if tracker.primary is None:
                tracker.override = QUEUED
            if late > self.settings.announce_fresh_seconds:
                log.warning("announcement %s was due at %s while ntrbot was down; expired",
                            ann.id, ann.airs_at.isoformat())
                tracker.update_all(EXPIRED, "ntrbot was not running at its air time")
                self._start_follow(tracker, False)
                continue
            log.info("announcement %s still waits for its air time %s; it goes out then",
                     ann.id, ann.airs_at.isoformat())
            self._start_follow(tracker, False)
            self._schedule(tracker, max(ann.airs_at, now))

    async def _finish_cut_off(self) -> None:
        """What a stop or a crash left unfinished ends now, truthfully: a line written but
        never confirmed is `failed`, one never sent `expired`, a relay's missing ack `failed`
        (no ack). A relay that does not ack stays `sent`; announces still waiting for their
        air time are taken over by start()."""
        for ann in await self.db.announcements.unfinished_announcements():
            if ann.airs_at is not None and all(d.state == QUEUED for d in ann.deliveries):
                continue
            now = self._clock()
            done: list[OutputDelivery] = []
            for d in ann.deliveries:
                rule = self._rules.get(d.kind)
                end = None if d.final else rule.cut_off(d) if rule else stopped(d)
                if end is not None:
                    done.append(OutputDelivery(d.output, *end, now))
            if not done:
                continue
            ends = {d.output: d for d in done}
            after = [ends.get(d.output, d) for d in ann.deliveries]
            irc = [d.state for d in after if d.kind is OutputKind.IRC]
            summary = irc[0] if irc else ann.delivery
            if summary == QUEUED:
                summary = EXPIRED
            log.warning("announcement %s was cut off by a stop: %s", ann.id,
                        ", ".join(f"{d.output} {d.state}" for d in done))
            await self.db.announcements.set_delivery(ann.id, summary,
                                                     delivered_at=ann.delivered_at, outputs=done)

    # --- announcing --------------------------------------------------------------

    async def announce(self, show_id: int, position: int, *, force: bool = False,
                       who: str = "web", delay: float | None = None) -> AnnounceResult:
        """Announce the track at `position` of show `show_id` on every output; record it.

        Raises NotFound for an unknown show or position, AlreadyAnnounced (with the
        earlier `announced_at`) when it was announced in that show and not `force`.
        Without a delay the answer waits up to `confirm_wait` seconds for the first IRC
        channel's confirmation, so that on a healthy link it already says `delivered`.
        """
        async with self._lock:  # check + send + record as one step: no double announce
            show = await self.db.show(show_id)
            if show is None:
                raise NotFound(f"no show {show_id}")
            st = show.track_at(position)
            if st is None:
                raise NotFound(f"show {show_id} has no track #{position}")
            if not force:
                earlier = await self.db.announcements.first_announcement(show_id, position)
                if earlier is not None:
                    raise AlreadyAnnounced(
                        f"track #{position} was already announced in this show",
                        announced_at=earlier.announced_at.isoformat())
            message = format_announce(self.settings.announce_format, show, st)
            if self._next_id is None:
                self._next_id = await self.db.announcements.next_announcement_id()
            ann_id, self._next_id = self._next_id, self._next_id + 1
            now = self._clock()
            wait = self.delay if delay is None else delay
            airs_at = now + timedelta(seconds=max(0.0, wait))
            if self._last_airs_at is not None and self._pending and airs_at < self._last_airs_at:
                airs_at = self._last_airs_at  # after the one still waiting: in order
            pending = airs_at > now
            names = [name for output in self.outputs for name in output.names]
            waiting = f"airs at {airs_at.astimezone(UTC).strftime('%H:%M:%S')} UTC"
            base = Announcement(
                ann_id, show_id, position, st.track.id, message, now, who, QUEUED,
                airs_at=airs_at if pending else None,
                deliveries=tuple(OutputDelivery(n, QUEUED, waiting if pending else "", now)
                                 for n in names))
            tracker = self._track(base)
            if pending and tracker.primary is None:
                tracker.override = QUEUED  # no IRC output to say it waits
            if not pending:
                await self._air(tracker, st)
            tracker.take()  # what changed so far is in the record below
            first = tracker.snapshot()
            try:
                await self.db.announcements.record_announcement(
                    show_id, position, st.track.id, message, now, who, first.delivery,
                    announcement_id=ann_id, deliveries=first.deliveries,
                    delivered_at=first.delivered_at, airs_at=first.airs_at)
            except BaseException:
                self._trackers.pop(ann_id, None)
                raise
            if pending:
                self._schedule(tracker, airs_at)
        log.info("announced show %s #%s by %s: %s, %d output(s)", show_id, position, who,
                 f"airs in {wait:g} s" if pending else f"irc {first.delivery}", len(names))
        self.events.publish("announcement", {"announcement": first.to_json(),
                                             "irc": self._irc_detail(tracker),
                                             "aired_now": first.aired})
        self._start_follow(tracker, first.aired)
        if not pending and tracker.primary is not None and self.irc.worth_waiting(
                tracker.outputs[tracker.primary]):
            await self._wait_confirmation(tracker)
        return AnnounceResult(tracker.snapshot(), self._irc_detail(tracker),
                              sum(d.kind is OutputKind.RELAY for d in base.deliveries),
                              st.to_json())

    async def _wait_confirmation(self, tracker: DeliveryTracker) -> None:
        """Until the first IRC channel's line is final, or `confirm_wait` seconds."""
        final = asyncio.ensure_future(tracker.primary_final.wait())
        timer = asyncio.ensure_future(self._sleep(self.confirm_wait))
        try:
            await asyncio.wait((final, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (final, timer):
                task.cancel()

    def _track(self, base: Announcement) -> DeliveryTracker:
        tracker = DeliveryTracker(base, settles=self._settles, clock=self._clock)
        self._trackers[base.id] = tracker
        return tracker

    def _settles(self, d: OutputDelivery) -> bool:
        rule = self._rules.get(d.kind)
        return rule is not None and rule.settles_when_sent(d)

    def _irc_detail(self, tracker: DeliveryTracker) -> str:
        if tracker.primary is not None:
            return tracker.outputs[tracker.primary].detail
        return self.irc.absent

    def _schedule(self, tracker: DeliveryTracker, airs_at: datetime) -> None:
        self._last_airs_at = max(airs_at, self._last_airs_at or airs_at)
        ann_id = tracker.base.id
        before = self._chain

        async def wait_then_air() -> None:
            await self._sleep(max(0.0, (airs_at - self._clock()).total_seconds()))
            if before is not None and not before.done():
                await asyncio.wait([before])  # the one before airs first (or was cancelled)
            self._pending.pop(ann_id, None)
            await self._air(tracker)

        task = asyncio.create_task(wait_then_air(), name=f"announce-{ann_id}")
        self._pending[ann_id] = self._chain = task

    async def _air(self, tracker: DeliveryTracker, st: ShowTrack | None = None) -> None:
        """Send the announce to every output now; the tracker follows each. `st` is the
        track when the caller has it (an announce without delay), else it is looked up."""
        base = tracker.base
        tracker.override = None
        if st is None:
            show = await self.db.show(base.show_id)
            st = next((t for t in show.tracks if t.track.id == base.track_id),
                      None) if show else None
        message = {"type": "announce", "id": base.id, "message": base.message,
                   "show_id": base.show_id, "position": st.position if st else base.position,
                   "track": st.to_json() if st else {},
                   "announced_at": base.announced_at.isoformat()}
        airing = Airing(base.id, base.message, message, self.settings.announce_fresh_seconds,
                        tuple(d.output for d in base.deliveries))
        for output in self.outputs:
            await output.start(airing, tracker.update)
        tracker.changed.set()  # the summary moved on from "queued" too

    # --- cancelling ----------------------------------------------------------------

    def is_pending(self, ann_id: int) -> bool:
        return ann_id in self._pending

    async def cancel(self, ann_id: int) -> Announcement | None:
        """Cancel an announce that has not aired yet: nothing reaches any output."""
        task = self._pending.pop(ann_id, None)
        tracker = self._trackers.get(ann_id)
        if task is None or tracker is None:
            return None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        tracker.update_all(CANCELLED, "cancelled before it aired")
        tracker.changed.set()
        if not self._pending:
            self._last_airs_at = None
        return tracker.snapshot()

    # --- following -----------------------------------------------------------------

    def _start_follow(self, tracker: DeliveryTracker, aired: bool) -> None:
        task = asyncio.create_task(self._follow(tracker, aired))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _follow(self, tracker: DeliveryTracker, aired: bool) -> None:
        """Record every change of one announcement's deliveries and tell the dashboards."""
        ann_id = tracker.base.id
        try:
            while True:
                if not tracker.changed.is_set():
                    if tracker.settled and ann_id not in self._pending:
                        break
                    await tracker.changed.wait()
                changed = tracker.take()
                snap = tracker.snapshot()
                try:
                    await self.db.announcements.set_delivery(
                        ann_id, snap.delivery, delivered_at=snap.delivered_at, outputs=changed)
                except Exception:
                    log.exception("could not record delivery of announcement %s", ann_id)
                for d in changed:
                    log.info("announcement %s on %s: %s%s", ann_id, d.output, d.state,
                             f" ({d.detail})" if d.state != DeliveryState.DELIVERED
                             and d.detail else "")
                aired_now = snap.aired and not aired
                aired = aired or snap.aired
                self.events.publish("delivery", {
                    "id": ann_id, "show_id": snap.show_id, "position": snap.position,
                    "delivery": snap.delivery, "announcement": snap.to_json(),
                    "aired_now": aired_now})
        finally:
            self._trackers.pop(ann_id, None)

    async def close(self) -> None:
        """Stop following (shutdown). Announces still waiting keep their record: they air
        after the next start if still fresh, else they are recorded expired then."""
        if self._pending:
            log.info("%d announce(s) wait for their air time; they go out after the next "
                     "start if still fresh", len(self._pending))
        for task in [*self._pending.values(), *self._watchers]:
            task.cancel()
        await asyncio.gather(*self._pending.values(), *self._watchers, return_exceptions=True)
        self._pending.clear()
