"""Announcing a track: format, send to IRC directly, then record and broadcast."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from .keys import ANNOUNCER, DB, EVENTS, HUB, IRC, NOW, SETTINGS

if TYPE_CHECKING:
    from .config import Settings
    from .db import Database
    from .events import EventBus
    from .hub import AnnounceHub
    from .models import Show, ShowTrack

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class IrcSender(Protocol):
    """What the announcer needs of the IRC client (and of DisabledIrc)."""

    def say(self, target: str, text: str, *, priority: bool = ...,
            fresh_for: float | None = ...) -> Any: ...


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

    announcement_id: int
    show_id: int
    position: int
    message: str
    announced_at: datetime
    who: str
    delivery: str  # sent | queued | failed (later: sent | expired | failed)
    irc: str  # one human line about the IRC delivery
    subscribers: int
    track: dict[str, Any] = field(default_factory=dict)
    line: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "announced", "message": self.message, "irc": self.irc,
            "delivery": self.delivery, "subscribers": self.subscribers,
            "announced_at": self.announced_at.isoformat(),
            "announcement_id": self.announcement_id, "show_id": self.show_id,
            "position": self.position, "who": self.who, "track": self.track,
        }


def clean_line(text: str) -> str:
    """One line: control characters (CR, LF, NUL, ...) become single spaces."""
    return _CONTROL.sub(" ", text).strip()


def format_announce(template: str, show: Show, st: ShowTrack) -> str:
    t = st.track
    values = {
        "position": st.position, "title": t.title, "artist": t.artist,
        "permalink_url": t.permalink_url, "artwork_url": t.artwork_url or "",
        "duration_ms": t.duration_ms if t.duration_ms is not None else "",
        "license": t.license or "", "liked_at": st.liked_at.isoformat(), "id": t.id,
        "episode": show.episode if show.episode is not None else "", "show_id": show.id,
    }
    return clean_line(template.format_map(values))


def announcement_json(a: Any) -> dict[str, Any]:
    """An Announcement (models) as JSON for the dashboard."""
    return {"id": a.id, "show_id": a.show_id, "position": a.position, "track_id": a.track_id,
            "message": a.message, "announced_at": a.announced_at.isoformat(), "who": a.who,
            "delivery": a.delivery}


class Announcer:
    """The one path every announce takes (dashboard, admin API, IRC `!announce`)."""

    def __init__(self, db: Database, irc: IrcSender | None, hub: AnnounceHub | None,
                 events: EventBus | None, settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.db, self.irc, self.hub, self.events, self.settings = db, irc, hub, events, settings
        self._clock = clock
        self._lock = asyncio.Lock()
        self._watchers: set[asyncio.Task[None]] = set()

    async def announce(self, show_id: int, position: int, *, force: bool = False,
                       who: str = "web") -> AnnounceResult:
        """Send the track at `position` of show `show_id` to IRC and to the hub; record it.

        Raises NotFound for an unknown show or position, AlreadyAnnounced (with the
        earlier `announced_at`) when it was announced in that show and not `force`.
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
            message = format_announce(self.settings.announce_format, show, st)
            delivery, detail, line, outcome = await self._send(message)
            announced_at = self._clock()
            track = st.to_json()
            subscribers = 0
            if self.hub is not None:
                subscribers = self.hub.broadcast({
                    "type": "announce", "message": message, "show_id": show_id,
                    "position": position, "track": track,
                    "announced_at": announced_at.isoformat()})
            ann_id = await self.db.record_announcement(
                show_id, position, st.track.id, message, announced_at, who, delivery)
        result = AnnounceResult(ann_id, show_id, position, message, announced_at, who,
                                delivery, detail, subscribers, track, line)
        log.info("announced show %s #%s by %s: irc %s, %d subscriber(s)",
                 show_id, position, who, delivery, subscribers)
        if self.events is not None:
            self.events.publish("announcement", {"announcement": {
                "id": ann_id, "show_id": show_id, "position": position,
                "track_id": st.track.id, "message": message,
                "announced_at": announced_at.isoformat(), "who": who, "delivery": delivery,
                "irc": detail}})
        if outcome is not None and delivery == "queued":
            task = asyncio.create_task(self._follow(ann_id, show_id, position, outcome))
            self._watchers.add(task)
            task.add_done_callback(self._watchers.discard)
        return result

    async def _send(self, message: str) -> tuple[str, str, str | None, Any]:
        if self.irc is None:
            return "failed", "IRC is not configured", None, None
        try:
            d = self.irc.say(self.settings.announce_channel, message, priority=True,
                             fresh_for=self.settings.announce_fresh_seconds)
            if inspect.isawaitable(d):
                d = await d
        except Exception as exc:  # the IRC client must never make an announce a 5xx
            log.warning("IRC send failed: %s", type(exc).__name__)
            return "failed", "IRC send failed", None, None
        status = getattr(d, "status", "failed")
        if status not in {"sent", "queued", "failed"}:
            status = "failed"
        return (status, str(getattr(d, "detail", status)), getattr(d, "line", None),
                getattr(d, "outcome", None))

    async def _follow(self, ann_id: int, show_id: int, position: int,
                      outcome: asyncio.Future[str]) -> None:
        """Record how a queued announce ended (sent / expired / failed) and tell dashboards."""
        try:
            final = await outcome
        except asyncio.CancelledError:
            raise
        except Exception:
            final = "failed"
        if final not in {"sent", "expired", "failed"}:
            final = "failed"
        try:
            await self.db.set_delivery(ann_id, final)
        except Exception:
            log.exception("could not record delivery of announcement %s", ann_id)
        log.info("queued announcement %s: %s", ann_id, final)
        if self.events is not None:
            self.events.publish("delivery", {"id": ann_id, "show_id": show_id,
                                             "position": position, "delivery": final})

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
