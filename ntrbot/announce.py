"""Announcing a track: the message format, refusals, the answer, POST /admin/announce."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .irc.lines import clean
from .keys import ANNOUNCER, DB, EVENTS, HUB, IRC, NOW, SETTINGS, WEBHOOKS
from .models import Announcement

if TYPE_CHECKING:
    from .models import Show, ShowTrack

log = logging.getLogger(__name__)

# `{permalink_url}` (with a conversion or format spec) and the separator before it.
_URL_FIELD = re.compile(r"\s*(?:[-\u2013\u2014|:\u00b7]\s*)?"
                        r"\{permalink_url(?:![rsa])?(?::[^{}]*)?\}")


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


def format_announce(template: str, show: Show, st: ShowTrack) -> str:
    """The announce line. A track without a URL (a manual track may have none) drops the
    `{permalink_url}` field together with the separator before it (" - "). The line is
    cleaned by the one line cleaner (`ntrbot.irc.lines.clean`)."""
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
    return clean(template.format_map(values))


def setup_announcer(app: web.Application) -> None:
    """Create app[ANNOUNCER] at startup from DB, IRC, HUB, EVENTS and SETTINGS.

    Append after the cleanup contexts that provide DB and IRC (and after `setup_hub`).
    """
    from .announcer import Announcer

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        if ANNOUNCER not in app:
            app[ANNOUNCER] = Announcer(app[DB], app.get(IRC), app.get(HUB), app.get(EVENTS),
                                       app[SETTINGS], clock=app.get(NOW),
                                       webhooks=app.get(WEBHOOKS))
        await app[ANNOUNCER].start()
        yield
        await app[ANNOUNCER].close()

    app.cleanup_ctx.append(ctx)


# --- POST /admin/announce ---------------------------------------------------------

MAX_ID = 2**63 - 1
MAX_DELAY = 600
MAX_POSITION = 2**31 - 1


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def parse_announce_body(raw: bytes) -> tuple[int, int, bool, float | None] | web.Response:
    """(show_id, position, force, delay) from the request body, or the 400/422 JSON error."""
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
    delay = data.get("delay")
    if delay is not None and (type(delay) not in (int, float) or not 0 <= delay <= MAX_DELAY):
        return _error(422, f"delay must be a number of seconds from 0 to {MAX_DELAY}")
    return values[0], values[1], force, None if delay is None else float(delay)


async def handle_announce(request: web.Request, who: str) -> web.Response:
    """The body of POST /admin/announce once `who` is authenticated."""
    raw = await request.read()  # over client_max_size: 413 from aiohttp
    parsed = parse_announce_body(raw)
    if isinstance(parsed, web.Response):
        return parsed
    show_id, position, force, delay = parsed
    try:
        result = await request.app[ANNOUNCER].announce(show_id, position, force=force, who=who,
                                                       delay=delay)
    except AnnounceError as exc:
        return _error(exc.status, exc.message, **exc.extra)
    return web.json_response(result.to_json())
