"""Public JSON routes (/health, /playlist, /shows) and the JSON error middleware."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from . import keys
from .headers import add_security_headers
from .models import Show
from .negotiate import wants_html

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_WHOLE = re.compile(r"[0-9]{1,9}")
MAX_LIMIT = 100


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """The one shape of every error: {"error": "..."} with a 4xx status."""
    return web.json_response({"error": message, **extra}, status=status)


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    if not response.prepared:
        add_security_headers(response.headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn every HTTP error into JSON; an unexpected exception is logged, never leaked.

    Being the outermost middleware, it also puts the security headers on every response,
    errors and 404s included (`headers.SECURITY_HEADERS`).
    """
    try:
        return _secured(await handler(request))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            _secured(exc)
            raise
        reason = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") \
            else exc.reason
        return _secured(json_error(exc.status, reason or "error"))
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _secured(json_error(500, "internal error"))


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        data = json.loads(await request.read())
    except (ValueError, RecursionError):
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return data


def json_int(data: dict[str, Any], name: str, *, minimum: int = 1, maximum: int = 10**9,
             required: bool = True) -> int | None:
    """An integer field of a JSON body (bools refused), or a 422 naming it."""
    if name not in data or data[name] is None:
        if required:
            raise web.HTTPUnprocessableEntity(text=f"{name} is required")
        return None
    value = data[name]
    if type(value) is not int or not minimum <= value <= maximum:
        raise web.HTTPUnprocessableEntity(
            text=f"{name} must be a whole number from {minimum} to {maximum}")
    return value


def whole_number(value: str | None, name: str, *, default: int | None = None,
                 minimum: int = 0, maximum: int = 10**9) -> int:
    """Parse a path/query number strictly or raise a 400 naming the parameter."""
    if value is None or value == "":
        if default is not None:
            return default
        raise web.HTTPBadRequest(text=f"{name} is required")
    if not _WHOLE.fullmatch(value) or not minimum <= int(value) <= maximum:
        raise web.HTTPBadRequest(text=f"{name} must be a whole number from {minimum} to {maximum}")
    return int(value)


@dataclass(frozen=True)
class CurrentShow:
    """The current show and its JSON body, valid while the database generation holds."""

    key: tuple[int, datetime]
    show: Show
    body: bytes


async def current(app: web.Application) -> CurrentShow:
    """The show whose week contains now (created empty if the poller has not made it yet),
    cached with its encoded JSON until a show changes or the week turns."""
    db, now = app[keys.DB], app[keys.NOW]()
    start, end = app[keys.CLOCK].week_of(now)
    cached = app[keys.CURRENT_SHOW].get("current")
    if cached is not None and cached.key == (db.generation, start):
        return cached
    generation = db.generation
    show = await db.show_at(now)
    if show is None:
        show = await db.show(await db.ensure_show(start, end))
        assert show is not None
    entry = CurrentShow((generation, start), show, json.dumps(show.to_json()).encode())
    if generation == db.generation:
        app[keys.CURRENT_SHOW]["current"] = entry
    return entry


async def current_show(app: web.Application) -> Show:
    return (await current(app)).show


async def show_or_404(request: web.Request) -> Show:
    """The show named by the `{show_id}` path parameter, or a JSON 400/404."""
    show_id = whole_number(request.match_info["show_id"], "show id", minimum=1)
    show = await request.app[keys.DB].show(show_id)
    if show is None:
        raise web.HTTPNotFound(text=f"no show {show_id}")
    return show


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    app = request.app
    irc = app.get(keys.IRC)
    hub = app.get(keys.HUB)
    return web.json_response({
        "status": "ok",
        "irc": irc.status() if irc is not None else {"enabled": False, "connected": False},
        "poller": app[keys.POLLER].state(),
        "subscribers": hub.subscribers if hub is not None else 0,
    })


@routes.get("/playlist")
async def playlist(request: web.Request) -> web.Response:
    return web.Response(body=(await current(request.app)).body,
                        content_type="application/json")


@routes.get("/playlist/{position}")
async def playlist_track(request: web.Request) -> web.Response:
    position = whole_number(request.match_info["position"], "position", minimum=1)
    show = await current_show(request.app)
    track = show.track_at(position)
    if track is None:
        return json_error(404, f"no track #{position} in the current show "
                               f"({len(show.tracks)} tracks)")
    return web.json_response({**track.to_json(), "show_id": show.id})


@routes.get("/nowplaying")
async def now_playing(request: web.Request) -> web.Response:
    """The last announced track (not retracted), or 404 before the first announce."""
    db = request.app[keys.DB]
    ann = await db.last_announcement(aired=True)
    show = await db.show(ann.show_id) if ann else None
    if ann is None or show is None:
        return json_error(404, "nothing announced yet")
    st = next((t for t in show.tracks if t.track.id == ann.track_id), None)
    return web.json_response({
        "message": ann.message, "show_id": ann.show_id, "position": ann.position,
        "announced_at": ann.announced_at.isoformat(),
        "track": st.to_json() if st else None})


@routes.get("/shows")
async def shows(request: web.Request) -> web.Response:
    limit = whole_number(request.query.get("limit"), "limit", default=20, minimum=1,
                         maximum=MAX_LIMIT)
    offset = whole_number(request.query.get("offset"), "offset", default=0)
    items, total = await request.app[keys.DB].shows(limit, offset)
    return web.json_response({"shows": [s.to_json(with_tracks=False) for s in items],
                              "total": total})


@routes.get("/shows/{show_id}")
async def show(request: web.Request) -> web.Response:
    found = await show_or_404(request)
    if wants_html(request):
        from .public import show_page  # the public page imports this module

        return await show_page(request, found)
    return web.json_response(found.to_json(), headers={"Vary": "Accept"})
