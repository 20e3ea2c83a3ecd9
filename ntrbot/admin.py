"""Admin routes (bearer token or dashboard session): refresh now, and announce."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from . import keys
from .api import json_error

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def bearer_ok(request: web.Request) -> bool:
    """True when the request carries `Authorization: Bearer <NTR_ADMIN_TOKEN>`."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    expected = request.app[keys.SETTINGS].admin_token
    return hmac.compare_digest(token.strip().encode(), expected.encode())


async def is_admin(request: web.Request) -> bool:
    return bearer_ok(request)


@routes.post("/admin/refresh")
async def refresh(request: web.Request) -> web.Response:
    if not await is_admin(request):
        return json_error(401, "admin authentication required")
    poller = request.app[keys.POLLER]
    try:
        result = await poller.poll_now()
    except Exception as exc:
        log.warning("refresh failed: %s", exc)
        return json_error(424, f"poll failed: {exc}",
                          poller=poller.state())
    return web.json_response({"status": "ok", "summary": result.summary(),
                              "poller": poller.state()})
