"""What the HTTP handlers share: the JSON error shape and middleware, body and path
parsing, the browser files' directory."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from ntrbot import keys
from ntrbot.http.headers import add_security_headers
from ntrbot.store.models import Show

log = logging.getLogger(__name__)
_WHOLE = re.compile(r"[0-9]{1,9}")


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    """The one shape of every error: {"error": "..."} with a 4xx status, to return."""
    return web.json_response({"error": message, **extra}, status=status)


def json_exception(exc_class: type[web.HTTPException], message: str,
                   **extra: Any) -> web.HTTPException:
    """The same JSON error as an exception, to raise (from checks deep in a handler)."""
    return exc_class(text=json.dumps({"error": message, **extra}),
                     content_type="application/json")


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


def ws_json(text: str) -> Any:
    """A client's WebSocket text message parsed (every socket reads them here; sizes are
    bounded by each socket's `max_msg_size`). ValueError for anything that is not JSON,
    nesting deeper than the parser's recursion limit included ("[" * 16000 raised an
    uncaught RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def ws_object(text: str) -> dict[str, Any] | None:
    """A client's WebSocket message when it is a JSON object, else None."""
    try:
        data = ws_json(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


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


async def show_or_404(request: web.Request) -> Show:
    """The show named by the `{show_id}` path parameter, or a JSON 400/404."""
    show_id = whole_number(request.match_info["show_id"], "show id", minimum=1)
    show = await request.app[keys.DB].show(show_id)
    if show is None:
        raise web.HTTPNotFound(text=f"no show {show_id}")
    return show


def web_dir() -> Path:
    """The browser files: `ntrbot/web` when installed, `web/` beside `ntrbot/` in a checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "web", package.parent / "web"):
        if (candidate / "dashboard.html").is_file():
            return candidate
    return package.parent / "web"
