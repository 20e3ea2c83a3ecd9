"""The Announcer: every announce to every output at once (or at its air time), followed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import irc.strings

from ntrbot.announcing.message import (
    MAX_DELAY,
    AlreadyAnnounced,
    AnnounceResult,
    NotFound,
    format_announce,
)
from ntrbot.announcing.tracking import DeliveryTracker
from ntrbot.irc.delivery import Delivery, finished
from ntrbot.store.models import Announcement, OutputDelivery, ShowTrack
from ntrbot.weeks import utcnow

if TYPE_CHECKING:
    from ntrbot.config import Settings
    from ntrbot.events import EventBus
    from ntrbot.irc.backend import IrcBackend
    from ntrbot.store.db import Database

log = logging.getLogger("ntrbot.announcing.message")

DELAY_KEY = "announce_delay_seconds"  # meta: tonight's delay, set from the dashboard
ACK_WAIT = "sent to the relay; waiting for its ack"
__all__ = ["MAX_DELAY", "Announcer", "Outputs", "Relays"]


class Relays(Protocol):
    """What the announcer needs of the relay hub (`/ws/announce` subscribers)."""

    def relays(self) -> list[dict[str, Any]]: ...

    def relay(self, message: dict[str, Any]) -> list[tuple[str, bool]]: ...

    #: called as on_ack(relay name, announcement id, ok, detail) for each relay's ack
    on_ack: Callable[[str, int, bool, str], None] | None


class Outputs(Protocol):
    """More outputs (webhooks): names, and start() sending one announce to each."""

    @property
    def names(self) -> list[str]: ...

    def start(self, message: dict[str, Any], line: str, fresh_for: float,
              update: Callable[[str, str, str], None]) -> None: ...


class Announcer:
    """The one path every announce takes (dashboard, admin API, IRC `!announce`).

    An announce goes to every output at once: each IRC announce channel, each relay
    subscriber, each webhook. With a delay (NTR_ANNOUNCE_DELAY_SECONDS, tonight's value
    from the dashboard, or the request's own) it is recorded at once with every output
    `queued` and `airs_at`, and goes out then unless cancelled first; a pending announce
    is kept in the database, so after a restart it still airs if it is fresh, else it is
    recorded `expired`. A follow-up task records every delivery change and publishes it.
    """

    def __init__(self, db: Database, irc: IrcBackend, hub: Relays, events: EventBus,
                 settings: Settings,
                 clock: Callable[[], datetime] | None = None,
                 confirm_wait: float = 2.0, webhooks: Outputs | None = None) -> None:
        self.db, self.irc, self.hub, self.events, self.settings = db, irc, hub, events, settings
        self.webhooks = webhooks
        self._clock = clock or utcnow
        self.confirm_wait = confirm_wait
        self._lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()
        self._trackers: dict[int, DeliveryTracker] = {}
        self._pending: dict[int, asyncio.Task[None]] = {}
        self._chain: asyncio.Task[None] | None = None  # the last one scheduled
        self._last_airs_at: datetime | None = None
        self._next_id: int | None = None
        self._delay: float | None = None  # tonight's delay; None: the setting
        hub.on_ack = self._on_ack

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
                tracker.override = "queued"
            if late > self.settings.announce_fresh_seconds:
                log.warning("announcement %s was due at %s while ntrbot was down; expired",
                            ann.id, ann.airs_at.isoformat())
                tracker.override = "expired"
                for name in list(tracker.outputs):
                    tracker.update(name, "expired", "ntrbot was not running at its air time")
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
            if ann.airs_at is not None and all(d.state == "queued" for d in ann.deliveries):
                continue
            now = self._clock()
            done: list[OutputDelivery] = []
            for d in ann.deliveries:
                if d.final or (d.output.startswith("relay:") and d.detail != ACK_WAIT
                               and d.state == "sent"):
                    continue
                if d.output.startswith("relay:"):
                    done.append(OutputDelivery(d.output, "failed", "no ack", now))
                elif d.state == "sent":
                    done.append(OutputDelivery(d.output, "failed", "not confirmed: ntrbot "
                                               "stopped before the confirmation came", now))
                else:
                    done.append(OutputDelivery(d.output, "expired", "not sent: ntrbot stopped "
                                               "before it went out", now))
            if not done:
                continue
            states = {d.output: d.state for d in ann.deliveries} | {
                d.output: d.state for d in done}
            irc = [o for o in states if o.startswith("irc:")]
            summary = states[irc[0]] if irc else ann.delivery
            if summary == "queued":
                summary = "expired"
            log.warning("announcement %s was cut off by a stop: %s", ann.id,
                        ", ".join(f"{d.output} {d.state}" for d in done))
            await self.db.announcements.set_delivery(ann.id, summary,
                                                     delivered_at=ann.delivered_at, outputs=done)

    # --- announcing --------------------------------------------------------------

    @property
    def irc_on(self) -> bool:
        return self.irc.status().enabled

    def _channels(self) -> tuple[str, ...]:
        return self.settings.announce_channels if self.irc_on else ()

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
            names = [f"irc:{c}" for c in self._channels()]
            names += [f"relay:{r['name']}" for r in self.hub.relays()]
            names += self.webhooks.names if self.webhooks else []
            waiting = f"airs at {airs_at.astimezone(UTC).strftime('%H:%M:%S')} UTC"
            base = Announcement(
                ann_id, show_id, position, st.track.id, message, now, who, "queued",
                airs_at=airs_at if pending else None,
                deliveries=tuple(OutputDelivery(n, "queued", waiting if pending else "", now)
                                 for n in names))
            tracker = self._track(base)
            if pending and tracker.primary is None:
                tracker.override = "queued"  # no IRC output to say it waits
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
                tracker.close()
                raise
            if pending:
                self._schedule(tracker, airs_at)
        log.info("announced show %s #%s by %s: %s, %d output(s)", show_id, position, who,
                 f"airs in {wait:g} s" if pending else f"irc {first.delivery}", len(names))
        self.events.publish("announcement", {"announcement": first.to_json(),
                                             "irc": self._irc_detail(tracker),
                                             "aired_now": first.aired})
        self._start_follow(tracker, first.aired)
        lines = tracker.lines
        if not pending and lines and self._worth_waiting(lines[0]):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tracker.primary_final.wait(), self.confirm_wait)
        return AnnounceResult(tracker.snapshot(), self._irc_detail(tracker),
                              sum(n.startswith("relay:") for n in names), st.to_json(),
                              lines[0].line if lines else None)

    def _track(self, base: Announcement) -> DeliveryTracker:
        irc = [d.output for d in base.deliveries if d.output.startswith("irc:")]
        tracker = DeliveryTracker(base, irc[0] if irc else None, clock=self._clock)
        self._trackers[base.id] = tracker
        return tracker

    def _irc_detail(self, tracker: DeliveryTracker) -> str:
        if tracker.primary is not None:
            return tracker.outputs[tracker.primary].detail
        return "IRC is off" if not self.irc_on else "IRC is not configured"

    def _schedule(self, tracker: DeliveryTracker, airs_at: datetime) -> None:
        self._last_airs_at = max(airs_at, self._last_airs_at or airs_at)
        ann_id = tracker.base.id
        before = self._chain

        async def wait_then_air() -> None:
            await asyncio.sleep(max(0.0, (airs_at - self._clock()).total_seconds()))
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
        track = st.to_json() if st else {}
        fresh = self.settings.announce_fresh_seconds
        for channel in self._channels():
            d = await self._say(channel, base.message, fresh)
            tracker.lines.append(d)
            name = f"irc:{channel}"
            tracker.update(name, d.state, d.detail or "waiting for IRC", d.at)

            def follow(d: Delivery, name: str = name) -> None:
                tracker.update(name, d.state, d.detail, d.at)
            d.on_change(follow)
        message = {"type": "announce", "id": base.id, "message": base.message,
                   "show_id": base.show_id, "position": st.position if st else base.position,
                   "track": track, "announced_at": base.announced_at.isoformat()}
        reached = self.hub.relay(message)
        for name, acks in reached:
            tracker.update(f"relay:{name}", "sent", ACK_WAIT if acks else "sent to the relay "
                           "(it does not ack)")
            if acks:
                tracker.expect_ack(f"relay:{name}")
        gone = {n for n in tracker.outputs if n.startswith("relay:")} - {
            f"relay:{name}" for name, _ in reached}
        for name in gone:
            tracker.update(name, "failed", "the relay was gone at air time")
        if self.webhooks is not None:
            self.webhooks.start(message, base.message, fresh,
                                lambda output, state, detail: tracker.update(output, state,
                                                                             detail))
        tracker.changed.set()  # the summary moved on from "queued" too

    async def _say(self, channel: str, message: str, fresh: float) -> Delivery:
        try:
            return await self.irc.say(channel, message, priority=True, confirm=True,
                                      fresh_for=fresh)
        except Exception as exc:  # the IRC client must never make an announce a 5xx
            log.warning("IRC send failed: %s", type(exc).__name__)
            return finished(channel, message, "failed", "IRC send failed")

    def _worth_waiting(self, line: Delivery) -> bool:
        """Wait for a line written or about to be (flood limit), not for one waiting for IRC
        to come back: the host learns at once that it is queued."""
        if line.final:
            return False
        if line.state == "sent":
            return True
        st = self.irc.status()
        return st.connected and irc.strings.lower(line.target) in {
            irc.strings.lower(c) for c in st.channels}

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
        tracker.override = "cancelled"
        for name in list(tracker.outputs):
            tracker.update(name, "cancelled", "cancelled before it aired")
        tracker.changed.set()
        if not self._pending:
            self._last_airs_at = None
        return tracker.snapshot()

    # --- following -----------------------------------------------------------------

    def _on_ack(self, name: str, ann_id: int, ok: bool, detail: str) -> None:
        tracker = self._trackers.get(ann_id)
        if tracker is None:
            return
        output = f"relay:{name}"
        if output not in tracker.acking:  # only a relay this announce went to, asked to ack
            return
        if ok:
            tracker.update(output, "delivered", detail or "posted by the relay")
        else:
            tracker.update(output, "failed", detail or "the relay could not post it")

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
                             f" ({d.detail})" if d.state != "delivered" and d.detail else "")
                aired_now = snap.aired and not aired
                aired = aired or snap.aired
                self.events.publish("delivery", {
                    "id": ann_id, "show_id": snap.show_id, "position": snap.position,
                    "delivery": snap.delivery, "announcement": snap.to_json(),
                    "aired_now": aired_now})
        finally:
            tracker.close()
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
