"""Admin routes (bearer token or dashboard session): refresh now, and announce."""

from __future__ import annotations

import logging

from aiohttp import web

from . import keys
from .announce import handle_announce
from .api import json_error
from .auth import admin_identity

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post("/admin/refresh")
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


@routes.post("/admin/announce")
async def announce(request: web.Request) -> web.Response:
    """Body {"show_id": int, "position": int, "force": bool=false}; see SPEC."""
    who = await admin_identity(request)
    return await handle_announce(request, who)
