"""The host's dashboard: login/logout, the page, its static files and its own socket."""

from __future__ import annotations

import asyncio
import contextlib
import html
import importlib.util
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp_session import get_session, new_session, session_middleware

from ntrbot.attempts import LoginThrottle
from ntrbot.fanout import Fanout, Overflow, Policy, close_socket
from ntrbot.http.auth import (
    SESSION_ID,
    SESSION_MAX_AGE,
    SessionStorage,
    check_login,
    revoke_session,
    same_origin,
    security_headers,
    session_user,
    start_session,
)
from ntrbot.http.clientaddr import client_address
from ntrbot.http.helpers import web_dir, ws_json
from ntrbot.http.negotiate import wants_html
from ntrbot.http.throttle import retry_header
from ntrbot.keys import (
    ANNOUNCER,
    DB,
    EVENTS,
    HUB,
    IRC,
    POLLER,
    REVOKED,
    SETTINGS,
    SOCKETS,
    STATS,
    THROTTLE,
)
from ntrbot.serve import StartupError

log = logging.getLogger(__name__)

CLOSE_LOGGED_OUT = 4401
# A page that does not keep up loses its oldest events (as the event bus did for it); a
# send stuck for 10 s aborts its connection.
DASHBOARD_POLICY = Policy(Overflow.DROP_OLDEST, queue_size=256, send_timeout=10.0, abort=True)
FORWARDED = frozenset({"poller", "playlist", "announcement", "delivery", "retracted",
                       "subscribers", "irc", "delay"})
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml",
                ".png": "image/png", ".ico": "image/x-icon"}
NO_STORE = {"Cache-Control": "no-store"}


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **NO_STORE})


def _login_page(message: str | None = None, status: int = 200,
                username: str = "") -> web.Response:
    page = (web_dir() / "login.html").read_text(encoding="utf-8")
    notice = f'<p class="notice error" role="alert">{html.escape(message)}</p>' if message else ""
    page = page.replace("<!--MESSAGE-->", notice).replace("<!--SIGNED-IN-->\n", "")
    if username:  # keep what was typed (escaped), so only the password is retyped
        page = page.replace('name="username"',
                            f'name="username" value="{html.escape(username[:200])}"', 1)
    return web.Response(text=page, status=status,
                        content_type="text/html", charset="utf-8", headers=NO_STORE)


def _signed_in_page(user: str) -> web.Response:
    """/login for a signed-in user: who is signed in, the dashboard, and a Log out button
    (a same-origin POST form: logging out is never a GET)."""
    page = (web_dir() / "login.html").read_text(encoding="utf-8")
    start, end = page.index("<!--SIGNED-IN-->"), page.index("</form>") + len("</form>")
    card = (f'<p>Logged in as <strong>{html.escape(user[:200])}</strong>.</p>\n'
            '      <p><a href="/dashboard" role="button">Open the dashboard</a></p>\n'
            '      <form method="post" action="/logout">\n'
            '        <button type="submit" class="secondary">Log out</button>\n'
            '      </form>')
    page = page[:start] + card + page[end:]
    return web.Response(text=page.replace("<!--MESSAGE-->", ""), content_type="text/html",
                        charset="utf-8", headers=NO_STORE)


def _login_error(request: web.Request, message: str, status: int,
                 headers: dict[str, str] | None = None) -> web.Response:
    """A refused login: the login page for a browser, JSON {"error"} for anything else."""
    if wants_html(request):
        page = _login_page(message, status=status)
        page.headers.update(headers or {})
        return page
    return web.json_response({"error": message}, status=status,
                             headers={**NO_STORE, **(headers or {})})


def _client(request: web.Request) -> str:
    return client_address(request)


async def login_get(request: web.Request) -> web.StreamResponse:
    user = await session_user(request)
    return _login_page() if user is None else _signed_in_page(user)


async def login_post(request: web.Request) -> web.StreamResponse:
    if not same_origin(request, allow_null=True):
        return _login_error(request, "Cross-site login refused.", 403)
    throttle = request.app[THROTTLE]
    client = _client(request)
    # Counted now, before the body is awaited: a burst cannot pass the check all at once.
    wait = throttle.reserve(client)
    if wait > 0:
        log.warning("login throttled for %s", client)
        request.app[STATS].login_failures["throttled"] += 1
        return _login_error(request, "Too many failed logins. Try again in "
                            f"{math.ceil(wait)} seconds.", 429, retry_header(wait))
    form: Mapping[str, object]
    try:
        form = await request.post()
    except (ValueError, web.HTTPException):
        form = {}
    username, password = form.get("username"), form.get("password")
    user = username if isinstance(username, str) else ""  # a login is only ever a string
    settings = request.app[SETTINGS]
    if not await check_login(settings, username, password):  # scrypt off the event loop
        log.info("failed login from %s", client)
        request.app[STATS].login_failures["invalid"] += 1
        return _login_page("Invalid username or password.", username=user)
    throttle.succeeded(client)
    start_session(await new_session(request), settings, user)
    log.info("dashboard login from %s", client)
    return _redirect("/dashboard")


async def logout_get(request: web.Request) -> web.StreamResponse:
    """GET /logout changes nothing (a link or an <img> from anywhere must not log the host
    out): 303 to /login, which offers a signed-in user the Log out button."""
    return _redirect("/login")


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout, from this site's own pages only (Origin/Referer check)."""
    if not same_origin(request, allow_null=True):
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    session = await get_session(request)
    sid = session.get(SESSION_ID)
    revoke_session(request, session)
    # this session's live sockets end with it
    fanout = request.app[SOCKETS]
    await asyncio.gather(*(fanout.close(sub, CLOSE_LOGGED_OUT, b"logged out")
                           for sub in list(fanout.subscribers) if sub.meta == sid))
    return _redirect("/login")


async def dashboard_page(request: web.Request) -> web.StreamResponse:
    if await session_user(request) is None:
        return _redirect("/login")
    return web.FileResponse(web_dir() / "dashboard.html", headers=NO_STORE)


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    root = web_dir().resolve()
    path = (root / name.replace("\x00", "")).resolve()  # NUL: no such file, never a 500
    if ("\x00" in name or not path.is_relative_to(root) or path.suffix not in STATIC_TYPES
            or not path.is_file()):
        raise web.HTTPNotFound(text=json.dumps({"error": "not found"}),
                               content_type="application/json")
    return web.FileResponse(path, headers={"Content-Type": STATIC_TYPES[path.suffix],
                                           "Cache-Control": "no-cache"})


# --- the dashboard's own socket --------------------------------------------------

def _hello(app: web.Application, user: str) -> dict[str, Any]:
    hub = app[HUB]
    return {
        "type": "hello", "user": user, "irc": app[IRC].status().to_json(),
        "subscribers": hub.subscribers, "relays": hub.relays(),
        "poller": app[POLLER].state(),
        "delay": {"seconds": app[ANNOUNCER].delay,
                  "default": app[SETTINGS].announce_delay_seconds},
    }


async def _reply(app: web.Application, data: Any) -> dict[str, Any] | None:
    """Answer a request the page sent on its socket."""
    if not isinstance(data, dict):
        return None
    kind = data.get("type")
    if kind == "announcements":
        show_id = data.get("show_id")
        if type(show_id) is not int or not 0 < show_id < 2**62:
            return {"type": "error", "error": "show_id must be a positive integer"}
        items = await app[DB].announcements.for_show(show_id)
        return {"type": "announcements", "show_id": show_id,
                "items": [a.to_json() for a in items]}
    if kind == "ping":
        return {"type": "pong"}
    return None


async def dashboard_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/dashboard: session-cookie only; pushes state changes from the event bus."""
    user = await session_user(request)
    if user is None:
        return web.json_response({"error": "login required"}, status=401)
    if not same_origin(request):
        return web.json_response({"error": "cross-origin request refused"}, status=403)
    app = request.app
    fanout = app[SOCKETS]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=16 * 1024, timeout=2.0)
    await ws.prepare(request)
    session = await get_session(request)
    sub = fanout.join(ws, str(session.get(SESSION_ID)), request,
                      first=fanout.encode(_hello(app, user)))
    login_at = session.get("login_at")
    remaining = SESSION_MAX_AGE - (time.time() - login_at) if isinstance(login_at, int) else 0

    async def expire() -> None:
        await asyncio.sleep(max(0.0, remaining))
        await close_socket(ws, CLOSE_LOGGED_OUT, b"session expired")

    expiry = asyncio.create_task(expire())
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                reply = await _reply(app, ws_json(msg.data))
            except ValueError:
                reply = {"type": "error", "error": "not JSON"}
            if reply is not None:
                sub.offer(fanout.encode(reply))  # dropped when the outbox is full
            if sub.done:
                break
    finally:
        fanout.leave(sub)
        expiry.cancel()
        if not ws.closed:
            await close_socket(ws, 1000, b"")
    return ws


async def _forward(app: web.Application) -> None:
    """Read the event bus (one subscription for all pages) and fan out what pages show."""
    queue = app[EVENTS].subscribe()
    fanout = app[SOCKETS]
    try:
        while True:
            event = await queue.get()
            if fanout.subscribers and event.get("type") in FORWARDED:
                fanout.publish(event)
    finally:
        app[EVENTS].unsubscribe(queue)


async def _forward_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_forward(app), name="dashboard-feed")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    await app[SOCKETS].close_all(1001, b"server shutdown")


def setup_dashboard(app: web.Application) -> None:
    """Sessions, security headers, the login throttle and the sockets' lifecycle (needs
    SETTINGS, EVENTS); `routes.add_routes` mounts its routes.

    Call only when settings.dashboard_enabled; otherwise none of its routes exist (404).
    """
    settings = app[SETTINGS]
    assert settings.secret_key, "dashboard needs NTR_SECRET_KEY"
    if importlib.util.find_spec("cryptography") is None:
        # Sessions import it on the first cookie (auth.SessionStorage): fail now, not at login.
        raise StartupError("the dashboard needs the Python package 'cryptography', which is "
                           "not installed: pip install 'cryptography>=41'")
    storage = SessionStorage(settings.secret_key, settings.cookie_secure)
    app.middlewares.append(session_middleware(storage))
    app.middlewares.append(security_headers)  # helpers.error_middleware, outermost, too
    app[THROTTLE] = LoginThrottle()
    app[REVOKED] = {}
    app[SOCKETS] = Fanout(DASHBOARD_POLICY, "dashboard")
    app.cleanup_ctx.append(_forward_ctx)
    app.on_shutdown.append(_close_sockets)
