"""The HTTP side of attempt limits (ntrbot/attempts.py): the 429 with Retry-After, the app's
one throttle for wrong tokens."""

from __future__ import annotations

import json
import math
from weakref import WeakKeyDictionary

from aiohttp import web

from ntrbot.attempts import Throttle


def retry_header(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait)))}


def too_many(wait: float, message: str = "too many failed attempts") -> web.HTTPException:
    """The JSON 429 with Retry-After, to raise."""
    return web.HTTPTooManyRequests(
        text=json.dumps({"error": f"{message}; try again in {max(1, math.ceil(wait))} s"}),
        content_type="application/json", headers=retry_header(wait))


_TOKEN_THROTTLES: WeakKeyDictionary[web.Application, Throttle] = WeakKeyDictionary()


def token_throttle(app: web.Application) -> Throttle:
    """The app's one throttle for wrong bearer, relay and subscribe tokens (per client)."""
    throttle = _TOKEN_THROTTLES.get(app)
    if throttle is None:
        throttle = _TOKEN_THROTTLES[app] = Throttle()
    return throttle
