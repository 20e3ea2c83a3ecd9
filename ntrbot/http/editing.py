"""Admin playlist edits: add (SoundCloud URL or by hand), remove, move, episode; retract."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ntrbot import keys
from ntrbot.deliveries import DeliveryState
from ntrbot.http.auth import admin_identity
from ntrbot.http.helpers import json_error, json_int, json_object, show_or_404, whole_number
from ntrbot.soundcloud.errors import SoundCloudError, SoundCloudNotFound
from ntrbot.store import manual

log = logging.getLogger(__name__)
RETRACT_WINDOW = timedelta(minutes=5)
MAX_POSITION = 10_000


async def _changed(request: web.Request, show_id: int) -> web.Response:
    request.app[keys.EVENTS].publish("playlist", {"show_id": show_id})
    show = await request.app[keys.DB].show(show_id)
    assert show is not None
    return web.json_response({"status": "ok", "show": show.to_json()})


_NOT_SOUNDCLOUD = ("url must be a SoundCloud track URL (or give a title and an artist to add "
                   "a track by hand)")


def _soundcloud_url(request: web.Request, url: Any) -> str:
    if not isinstance(url, str) or len(url) > 2000:
        raise web.HTTPUnprocessableEntity(text=_NOT_SOUNDCLOUD)
    parts = urlsplit(url.strip())
    allowed = {"soundcloud.com", "www.soundcloud.com", "m.soundcloud.com",
               urlsplit(request.app[keys.SETTINGS].soundcloud_web_base).hostname}
    if parts.scheme not in ("http", "https") or parts.hostname not in allowed:
        raise web.HTTPUnprocessableEntity(text=_NOT_SOUNDCLOUD)
    return url.strip()


async def add_track(request: web.Request) -> web.Response:
    """Body {"url": "https://soundcloud.com/...", "position": int (optional, default last)}
    resolves the track on SoundCloud; {"title", "artist", "url" (any http(s), optional),
    "position"} adds a manual track without asking SoundCloud (`manual.py`)."""
    who = await admin_identity(request)
    show = await show_or_404(request)
    data = await json_object(request)
    if manual.wants_manual(data):
        return await _add_manual(request, who, show.id, data)
    url = _soundcloud_url(request, data.get("url"))
    position = json_int(data, "position", maximum=MAX_POSITION, required=False)
    try:
        track = await request.app[keys.SOUNDCLOUD].resolve_track(url)
    except SoundCloudNotFound as exc:
        return json_error(404, str(exc))
    except SoundCloudError as exc:
        return json_error(424, f"SoundCloud: {exc}")
    try:
        at = await request.app[keys.DB].add_track(show.id, track, request.app[keys.NOW](),
                                                  position)
    except ValueError as exc:
        return json_error(409, str(exc))
    log.info("%s added track %s to show %s at #%d", who, track.id, show.id, at)
    return await _changed(request, show.id)


async def _add_manual(request: web.Request, who: str, show_id: int,
                      data: dict[str, Any]) -> web.Response:
    try:
        track = manual.manual_track(data)
    except manual.InvalidTrack as exc:
        return json_error(422, str(exc))
    position = json_int(data, "position", maximum=MAX_POSITION, required=False)
    try:
        added, at = await request.app[keys.DB].add_manual_track(
            show_id, track, request.app[keys.NOW](), position)
    except ValueError as exc:
        return json_error(409, str(exc))
    log.info("%s added manual track %s to show %s at #%d", who, added.id, show_id, at)
    return await _changed(request, show_id)


async def remove_track(request: web.Request) -> web.Response:
    who = await admin_identity(request)
    show = await show_or_404(request)
    position = whole_number(request.match_info["position"], "position", minimum=1)
    removed = await request.app[keys.DB].remove_track(show.id, position,
                                                      request.app[keys.NOW]())
    if removed is None:
        return json_error(404, f"show {show.id} has no track #{position}")
    log.info("%s removed track %s (#%d) from show %s", who, removed, position, show.id)
    return await _changed(request, show.id)


async def move_track(request: web.Request) -> web.Response:
    """Body {"to": int}: the track at `position` moves there."""
    who = await admin_identity(request)
    show = await show_or_404(request)
    position = whole_number(request.match_info["position"], "position", minimum=1)
    to = json_int(await json_object(request), "to", maximum=MAX_POSITION)
    assert to is not None
    if not await request.app[keys.DB].move_track(show.id, position, to):
        return json_error(404, f"show {show.id} has {len(show.tracks)} tracks; "
                               f"cannot move #{position} to #{to}")
    log.info("%s moved #%d to #%d in show %s", who, position, to, show.id)
    return await _changed(request, show.id)


async def set_episode(request: web.Request) -> web.Response:
    """Body {"episode": int or null}."""
    await admin_identity(request)
    show = await show_or_404(request)
    episode = json_int(await json_object(request), "episode", minimum=0, required=False)
    await request.app[keys.DB].set_episode(show.id, episode)
    return await _changed(request, show.id)


async def retract(request: web.Request) -> web.Response:
    """Cancel an announce still waiting for its air time (nothing goes out), or strike an
    accidental one from the history (what went out stays sent)."""
    who = await admin_identity(request)
    ann_id = whole_number(request.match_info["announcement_id"], "announcement id", minimum=1)
    db = request.app[keys.DB]
    ann = await db.announcements.announcement(ann_id)
    if ann is None:
        return json_error(404, f"no announcement {ann_id}")
    if ann.delivery == DeliveryState.CANCELLED:
        return web.json_response({"status": "cancelled", "id": ann_id,
                                  "announcement": ann.to_json(),
                                  "note": "already cancelled before it aired: nothing was sent"})
    announcer = request.app[keys.ANNOUNCER]
    if announcer.is_pending(ann_id):  # before its air time: a real Undo
        cancelled = await announcer.cancel(ann_id)
        if cancelled is not None:
            log.info("%s cancelled announcement %s before it aired", who, ann_id)
            return web.json_response({"status": "cancelled", "id": ann_id,
                                      "announcement": cancelled.to_json(),
                                      "note": "cancelled before it aired: nothing was sent"})
    now = request.app[keys.NOW]()
    if now - ann.announced_at > RETRACT_WINDOW:
        return json_error(409, "too late to retract: only the last "
                               f"{int(RETRACT_WINDOW.total_seconds() // 60)} minutes can be")
    await db.announcements.retract_announcement(ann_id, now)
    log.info("%s retracted announcement %s (the IRC line cannot be unsent)", who, ann_id)
    request.app[keys.EVENTS].publish("retracted", {"id": ann_id, "show_id": ann.show_id,
                                                   "position": ann.position})
    return web.json_response({"status": "retracted", "id": ann_id,
                              "note": "removed from the history; what already went out "
                                      "cannot be unsent"})


async def get_delay(request: web.Request) -> web.Response:
    """Tonight's announce delay and the configured default."""
    await admin_identity(request)
    return web.json_response(_delay_json(request))


async def put_delay(request: web.Request) -> web.Response:
    """Set tonight's announce delay: {"seconds": N} (0-600), or {"seconds": null} for the
    default (NTR_ANNOUNCE_DELAY_SECONDS); kept in the database until changed."""
    who = await admin_identity(request)
    data = await json_object(request)
    seconds = data.get("seconds", "missing")
    if seconds is not None and (type(seconds) not in (int, float) or not 0 <= seconds <= 600):
        return json_error(422, "seconds must be a number from 0 to 600, or null")
    await request.app[keys.ANNOUNCER].set_delay(None if seconds is None else float(seconds))
    log.info("%s set the announce delay to %s", who,
             "the default" if seconds is None else f"{seconds:g} s")
    body = _delay_json(request)
    request.app[keys.EVENTS].publish("delay", {"delay": body})
    return web.json_response(body)


def _delay_json(request: web.Request) -> dict[str, Any]:
    announcer = request.app[keys.ANNOUNCER]
    return {"seconds": announcer.delay,
            "default": request.app[keys.SETTINGS].announce_delay_seconds}
