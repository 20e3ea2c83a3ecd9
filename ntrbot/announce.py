"""Announcing a track: format, send to IRC directly, then record and broadcast."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from .irc.delivery import Delivery, finished
from .keys import ANNOUNCER, DB, EVENTS, HUB, IRC, NOW, SETTINGS
from .models import Announcement, OutputDelivery
from .tracking import DeliveryTracker

if TYPE_CHECKING:
    from .config import Settings
    from .db import Database
    from .events import EventBus
    from .hub import AnnounceHub
    from .models import Show, ShowTrack

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
# `{permalink_url}` (with a conversion or format spec) and the separator before it.
_URL_FIELD = re.compile(r"\s*(?:[-\u2013\u2014|:\u00b7]\s*)?"
                        r"\{permalink_url(?:![rsa])?(?::[^{}]*)?\}")


class IrcSender(Protocol):
    """What the announcer needs of the IRC client (and of DisabledIrc)."""

    async def say(self, target: str, text: str, *, priority: bool = ...,
                  fresh_for: float | None = ..., confirm: bool = ...) -> Delivery: ...

    def status(self) -> dict[str, Any]: ...


class AnnounceError(Exception):
    """A refused announce; `status` is the HTTP status, `extra` goes into the JSON body."""

    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(AnnounceError):
    status = 404


class AlreadyAnnounced(AnnounceError):
    status = 409


@dataclass
class AnnounceResult:
    """What one announce did; `to_json` is the body of POST /admin/announce."""

    announcement: Announcement
    irc: str  # one human line about the first IRC output
    subscribers: int
    track: dict[str, Any] = field(default_factory=dict)
    line: str | None = None

    @property
    def announcement_id(self) -> int:
        return self.announcement.id

    @property
    def delivery(self) -> str:
        return self.announcement.delivery

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "announced", **self.announcement.to_json(),
            "announcement_id": self.announcement.id, "irc": self.irc,
            "subscribers": self.subscribers, "track": self.track,
        }


def clean_line(text: str) -> str:
    """One line: control characters (CR, LF, NUL, ...) become single spaces."""
    return _CONTROL.sub(" ", text).strip()


def format_announce(template: str, show: Show, st: ShowTrack) -> str:
    """The announce line. A track without a URL (a manual track may have none) drops the
    `{permalink_url}` field together with the separator before it (" - ")."""
    t = st.track
    if not t.permalink_url:
        template = _URL_FIELD.sub("", template)
    values = {
        "position": st.position, "title": t.title, "artist": t.artist,
        "permalink_url": t.permalink_url, "artwork_url": t.artwork_url or "",
        "duration_ms": t.duration_ms if t.duration_ms is not None else "",
        "license": t.license or "", "liked_at": st.liked_at.isoformat(), "id": t.id,
        "episode": show.episode if show.episode is not None else "", "show_id": show.id,
    }
    return clean_line(template.format_map(values))


def announcement_json(a: Announcement) -> dict[str, Any]:
    """An Announcement as JSON for the dashboard (the one model's own form)."""
    return a.to_json()


class Announcer:
    """The one path every announce takes (dashboard, admin API, IRC `!announce`).

    Each announce goes to every output at once (each IRC announce channel, each relay
    subscriber); a follow-up task records every change of their deliveries and publishes
    it as a `delivery` event, until nothing more can change.
    """

    def __init__(self, db: Database, irc: IrcSender | None, hub: AnnounceHub | None,
                 events: EventBus | None, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 confirm_wait: float = 2.0) -> None:
        self.db, self.irc, self.hub, self.events, self.settings = db, irc, hub, events, settings
        self._clock = clock
        self.confirm_wait = confirm_wait
        self._lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()
        self._trackers: dict[int, DeliveryTracker] = {}
        self._next_id: int | None = None
        if hub is not None:
            hub.on_ack = self._on_ack

    @property
    def irc_on(self) -> bool:
        return self.irc is not None and bool(self.irc.status().get("enabled"))

    async def announce(self, show_id: int, position: int, *, force: bool = False,
                       who: str = "web") -> AnnounceResult:
        """Send the track at `position` of show `show_id` to every output; record it.

        Raises NotFound for an unknown show or position, AlreadyAnnounced (with the
        earlier `announced_at`) when it was announced in that show and not `force`.
        The answer waits up to `confirm_wait` seconds for the first IRC channel's
        confirmation, so that on a healthy link it already says `delivered`.
        """
        async with self._lock:  # check + send + record as one step: no double announce
            show = await self.db.show(show_id)
            if show is None:
                raise NotFound(f"no show {show_id}")
            st = show.track_at(position)
            if st is None:
                raise NotFound(f"show {show_id} has no track #{position}")
            if not force:
                earlier = await self.db.first_announcement(show_id, position)
                if earlier is not None:
                    raise AlreadyAnnounced(
                        f"track #{position} was already announced in this show",
                        announced_at=earlier.announced_at.isoformat())
            if self._next_id is None:
                self._next_id = await self.db.next_announcement_id()
            ann_id, self._next_id = self._next_id, self._next_id + 1
            message = format_announce(self.settings.announce_format, show, st)
            lines = await self._send_irc(message)
            announced_at = self._clock()
            track = st.to_json()
            relays: list[tuple[str, bool]] = []
            if self.hub is not None:
                relays = self.hub.relay({
                    "type": "announce", "id": ann_id, "message": message,
                    "show_id": show_id, "position": position, "track": track,
                    "announced_at": announced_at.isoformat()})
            outputs = [OutputDelivery(f"irc:{d.target}", d.state, d.detail, d.at)
                       for d in lines]
            outputs += [OutputDelivery(f"relay:{name}", "sent", "sent to the relay", announced_at)
                        for name, _acks in relays]
            primary = outputs[0].output if lines else None
            base = Announcement(ann_id, show_id, position, st.track.id, message, announced_at,
                                who, lines[0].state if lines else "failed",
                                deliveries=tuple(outputs))
            tracker = DeliveryTracker(base, primary, clock=self._clock)
            self._trackers[ann_id] = tracker
            for d in lines:
                d.on_change(lambda d: tracker.update(f"irc:{d.target}", d.state, d.detail, d.at))
            for name, acks in relays:
                if acks:
                    tracker.expect_ack(f"relay:{name}")
            tracker.take()  # what changed so far is in the record below
            first = tracker.snapshot()
            try:
                await self.db.record_announcement(
                    show_id, position, st.track.id, message, announced_at, who,
                    first.delivery, announcement_id=ann_id, deliveries=first.deliveries,
                    delivered_at=first.delivered_at)
            except BaseException:
                self._trackers.pop(ann_id, None)
                tracker.close()
                raise
        detail = lines[0].detail if lines else ("IRC is off" if not self.irc_on
                                                 else "IRC is not configured")
        log.info("announced show %s #%s by %s: irc %s, %d relay(s)",
                 show_id, position, who, first.delivery, len(relays))
        if self.events is not None:
            self.events.publish("announcement", {"announcement": first.to_json(), "irc": detail,
                                                 "aired_now": first.aired})
        task = asyncio.create_task(self._follow(tracker, first.aired))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        if tracker.primary is not None and self._worth_waiting(lines[0]):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tracker.primary_final.wait(), self.confirm_wait)
        now = tracker.snapshot()
        if lines:
            detail = lines[0].detail
        return AnnounceResult(now, detail, len(relays), track, lines[0].line if lines else None)

    def _worth_waiting(self, line: Delivery) -> bool:
        """Wait for a line written or about to be (flood limit), not for one waiting for IRC
        to come back: the host learns at once that it is queued."""
        if line.final:
            return False
        if line.state == "sent":
            return True
        assert self.irc is not None
        st = self.irc.status()
        return bool(st.get("connected")) and line.target.lower() in {
            c.lower() for c in st.get("channels") or ()}

    async def _send_irc(self, message: str) -> list[Delivery]:
        if self.irc is None:
            return []
        out: list[Delivery] = []
        channels = self.settings.announce_channels if self.irc_on else ()
        for channel in channels:
            try:
                out.append(await self.irc.say(channel, message, priority=True, confirm=True,
                                              fresh_for=self.settings.announce_fresh_seconds))
            except Exception as exc:  # the IRC client must never make an announce a 5xx
                log.warning("IRC send failed: %s", type(exc).__name__)
                out.append(finished(channel, message, "failed", "IRC send failed"))
        return out

    def _on_ack(self, name: str, ann_id: int, ok: bool, detail: str) -> None:
        tracker = self._trackers.get(ann_id)
        if tracker is None:
            return
        output = f"relay:{name}"
        if output not in tracker.outputs:
            return
        if ok:
            tracker.update(output, "delivered", detail or "posted by the relay")
        else:
            tracker.update(output, "failed", detail or "the relay could not post it")

    async def _follow(self, tracker: DeliveryTracker, aired: bool) -> None:
        """Record every change of one announcement's deliveries and tell the dashboards."""
        ann_id = tracker.base.id
        try:
            while True:
                if not tracker.changed.is_set():
                    if tracker.settled:
                        break
                    await tracker.changed.wait()
                changed = tracker.take()
                if not changed:
                    continue
                snap = tracker.snapshot()
                try:
                    await self.db.set_delivery(ann_id, snap.delivery,
                                               delivered_at=snap.delivered_at, outputs=changed)
                except Exception:
                    log.exception("could not record delivery of announcement %s", ann_id)
                for d in changed:
                    log.info("announcement %s on %s: %s%s", ann_id, d.output, d.state,
                             f" ({d.detail})" if d.state != "delivered" and d.detail else "")
                aired_now = snap.aired and not aired
                aired = aired or snap.aired
                if self.events is not None:
                    self.events.publish("delivery", {
                        "id": ann_id, "show_id": snap.show_id, "position": snap.position,
                        "delivery": snap.delivery, "announcement": snap.to_json(),
                        "aired_now": aired_now})
        finally:
            tracker.close()
            self._trackers.pop(ann_id, None)

    async def close(self) -> None:
        for task in list(self._watchers):
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)


def setup_announcer(app: web.Application) -> None:
    """Create app[ANNOUNCER] at startup from DB, IRC, HUB, EVENTS and SETTINGS.

    Append after the cleanup contexts that provide DB and IRC (and after `setup_hub`).
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if ANNOUNCER not in app:
            app[ANNOUNCER] = Announcer(app[DB], app.get(IRC), app.get(HUB), app.get(EVENTS),
                                       app[SETTINGS], **({"clock": app[NOW]} if NOW in app
                                                         else {}))
        yield
        await app[ANNOUNCER].close()

    app.cleanup_ctx.append(ctx)


# --- POST /admin/announce ---------------------------------------------------------

MAX_ID = 2**63 - 1
MAX_POSITION = 2**31 - 1


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def parse_announce_body(raw: bytes) -> tuple[int, int, bool] | web.Response:
    """(show_id, position, force) from the request body, or the 400/422 JSON error."""
    try:
        data = json.loads(raw.decode("utf-8"))  # JSON is UTF-8 (no UTF-16 guessing)
    except (ValueError, RecursionError):
        return _error(400, "body must be JSON")
    if not isinstance(data, dict):
        return _error(400, "body must be a JSON object")
    values: list[int] = []
    for name, top in (("show_id", MAX_ID), ("position", MAX_POSITION)):
        if name not in data:
            return _error(422, f"{name} is required")
        value = data[name]
        if type(value) is not int:  # bool is an int subclass: refused here too
            return _error(422, f"{name} must be an integer")
        if not 1 <= value <= top:
            return _error(422, f"{name} must be from 1 to {top}")
        values.append(value)
    force = data.get("force", False)
    if type(force) is not bool:
        return _error(422, "force must be true or false")
    return values[0], values[1], force


async def handle_announce(request: web.Request, who: str) -> web.Response:
    """The body of POST /admin/announce once `who` is authenticated."""
    raw = await request.read()  # over client_max_size: 413 from aiohttp
    parsed = parse_announce_body(raw)
    if isinstance(parsed, web.Response):
        return parsed
    show_id, position, force = parsed
    try:
        result = await request.app[ANNOUNCER].announce(show_id, position, force=force, who=who)
    except AnnounceError as exc:
        return _error(exc.status, exc.message, **exc.extra)
    return web.json_response(result.to_json())
