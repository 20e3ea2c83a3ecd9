"""Admin routes (bearer token or dashboard session): refresh now, and announce (its body)."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from ntrbot import keys
from ntrbot.announcing.message import MAX_DELAY, AlreadyAnnounced, AnnounceError, NotFound
from ntrbot.http.auth import admin_identity
from ntrbot.http.helpers import json_error

log = logging.getLogger(__name__)


async def refresh(request: web.Request) -> web.Response:
    await admin_identity(request)  # JSON 401 / 403 (cross-origin cookie) otherwise
    poller = request.app[keys.POLLER]
    try:
        result = await poller.poll_now()
    except Exception as exc:
        log.warning("refresh failed: %s", exc)
        return json_error(424, f"poll failed: {exc}", poller=poller.state())
    return web.json_response({"status": "ok", "summary": result.summary(),
                              "poller": poller.state()})


async def announce(request: web.Request) -> web.Response:
    """Body {"show_id": int, "position": int, "force": bool=false}; see SPEC."""
    who = await admin_identity(request)
    return await handle_announce(request, who)


# --- the announce body ---------------------------------------------------------------

MAX_ID = 2**63 - 1
MAX_POSITION = 2**31 - 1


def refusal_status(exc: AnnounceError) -> int:
    """The HTTP status of a refused announce: 404 unknown, 409 already announced, else 400."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, AlreadyAnnounced):
        return 409
    return 400


def parse_announce_body(raw: bytes) -> tuple[int, int, bool, float | None] | web.Response:
    """(show_id, position, force, delay) from the request body, or the 400/422 JSON error."""
    try:
        data = json.loads(raw.decode("utf-8"))  # JSON is UTF-8 (no UTF-16 guessing)
    except (ValueError, RecursionError):
        return json_error(400, "body must be JSON")
    if not isinstance(data, dict):
        return json_error(400, "body must be a JSON object")
    values: list[int] = []
    for name, top in (("show_id", MAX_ID), ("position", MAX_POSITION)):
        if name not in data:
            return json_error(422, f"{name} is required")
        value = data[name]
        if type(value) is not int:  # bool is an int subclass: refused here too
            return json_error(422, f"{name} must be an integer")
        if not 1 <= value <= top:
            return json_error(422, f"{name} must be from 1 to {top}")
        values.append(value)
    force = data.get("force", False)
    if type(force) is not bool:
        return json_error(422, "force must be true or false")
    delay = data.get("delay")
    if delay is not None and (type(delay) not in (int, float) or not 0 <= delay <= MAX_DELAY):
        return json_error(422, f"delay must be a number of seconds from 0 to {MAX_DELAY}")
    return values[0], values[1], force, None if delay is None else float(delay)


async def handle_announce(request: web.Request, who: str) -> web.Response:
    """The body of POST /admin/announce once `who` is authenticated."""
    raw = await request.read()  # over client_max_size: 413 from aiohttp
    parsed = parse_announce_body(raw)
    if isinstance(parsed, web.Response):
        return parsed
    show_id, position, force, delay = parsed
    try:
        result = await request.app[keys.ANNOUNCER].announce(show_id, position, force=force, who=who,
                                                       delay=delay)
    except AnnounceError as exc:
        return json_error(refusal_status(exc), exc.message, **exc.extra)
    return web.json_response(result.to_json())
