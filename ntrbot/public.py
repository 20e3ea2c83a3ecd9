"""The listeners' read-only playlist page: `/`, `/shows/{id}` as HTML, its files and /ws/public."""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import re
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import ip_address
from typing import Any

from aiohttp import WSMsgType, web

from . import keys
from .api import current_show, json_error, whole_number
from .auth import SECURITY_HEADERS
from .dashboard import web_dir
from .models import Announcement, Show

log = logging.getLogger(__name__)

# The only files /public/{name} serves, and their types.
PUBLIC_FILES = {"public.js": "text/javascript", "public.css": "text/css",
                "style.css": "text/css", "vendor/pico.min.css": "text/css",
                "favicon.svg": "image/svg+xml"}
PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "Vary": "Accept"}
PAST_SHOWS = 20
SETLIST_FORMATS = ("md", "txt", "csv", "json")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")

# --- content negotiation ---------------------------------------------------------


def _accept_q(accept: str, kind: str, subtype: str) -> float:
    """The q the Accept header gives `kind/subtype` (most specific matching range wins)."""
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        media, *params = part.split(";")
        rng_kind, _, rng_sub = media.strip().lower().partition("/")
        specificity = {("*", "*"): 0, (kind, "*"): 1, (kind, subtype): 2}.get((rng_kind, rng_sub))
        if specificity is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":  # a malformed q counts as 0 ("not acceptable")
                q = float(value.strip()) if _QVALUE.fullmatch(value.strip()) else 0.0
        if specificity > best[0] or (specificity == best[0] and q > best[1]):
            best = (specificity, q)
    return best[1]


def wants_html(request: web.Request) -> bool:
    """True when the client prefers text/html to application/json (JSON wins ties)."""
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return False
    return _accept_q(accept, "text", "html") > _accept_q(accept, "application", "json")


# --- HTML ----------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _safe_url(url: str | None) -> str | None:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def show_title(show: Show) -> str:
    """The heading of a show: its episode number when it has one, else its week."""
    if show.episode is not None:
        return f"NtR Episode {show.episode}"
    return f"NtR · week of {show.week_start.strftime('%-d %b %Y')}"


def _when(t: datetime, *, year: bool = True) -> str:
    return t.strftime("%a %-d %b" + (" %Y" if year else "") + ", %H:%M %Z").strip()


def _duration(ms: int | None) -> str:
    if not ms or ms < 0:
        return ""
    seconds = ms // 1000
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    return f"{sign}{h}:{rest // 60:02d}"


def now_playing(show: Show, announcements: list[Announcement]) -> int | None:
    """Position of the track playing now: the last (not retracted) announcement's track."""
    if not announcements:
        return None
    last = announcements[-1]
    found = next((st for st in show.tracks if st.track.id == last.track_id), None)
    return found.position if found else None


def _track_rows(show: Show, announcements: list[Announcement]) -> str:
    first: dict[int, datetime] = {}
    for a in announcements:
        first.setdefault(a.track_id, a.announced_at)
    playing = now_playing(show, announcements)
    rows = []
    for st in show.tracks:
        t, classes = st.track, ["track"]
        played = first.get(t.id)
        if played is not None:
            classes.append("played")
        if st.position == playing:
            classes.append("playing")
        url = _safe_url(t.permalink_url)
        title = (f'<a class="title" href="{_e(url)}" rel="noopener noreferrer" '
                 f'target="_blank">{_e(t.title)}</a>' if url
                 else f'<span class="title">{_e(t.title)}</span>')
        meta = [x for x in (_duration(t.duration_ms),) if x]
        if played is not None:
            meta.append("played " + _offset(int((played - show.week_start).total_seconds())))
        rows.append(
            f'<li class="{" ".join(classes)}" id="track-{st.position}" '
            f'data-position="{st.position}" data-track-id="{t.id}">'
            f'<span class="pos">{st.position}</span><span class="info">{title}'
            f'<span class="artist">{_e(t.artist)}</span></span>'
            f'<span class="meta">{_e(" · ".join(meta))}</span></li>')
    return "\n".join(rows)


def _now_card(show: Show, position: int | None) -> dict[str, str]:
    st = show.track_at(position) if position is not None else None
    if st is None:
        return {"NOW_HIDDEN": " hidden", "NOW_POS": "", "NOW_HREF": "", "NOW_TITLE": "",
                "NOW_ARTIST": ""}
    url = _safe_url(st.track.permalink_url)
    return {"NOW_HIDDEN": "", "NOW_POS": f"#{st.position}",
            "NOW_HREF": f'href="{_e(url)}"' if url else "", "NOW_TITLE": _e(st.track.title),
            "NOW_ARTIST": _e(st.track.artist)}


def _past_list(shows: list[Show], current_id: int) -> str:
    items = []
    for s in shows:
        here = ' aria-current="page"' if s.id == current_id else ""
        date = _e(s.week_start.strftime("%a %-d %b %Y"))
        label = f"Episode {s.episode}" if s.episode is not None else date
        when = f'<span class="muted">{date}</span>' if s.episode is not None else ""
        items.append(f'<li><a href="/shows/{s.id}"{here}>{_e(label)}</a>{when}</li>')
    return "\n".join(items) or '<li class="muted">No past shows yet.</li>'


async def render_page(app: web.Application, show: Show, *, mode: str,
                      offset: int = 0) -> str:
    """The page for `show`; `mode` is "current" (follows the live show) or "show"."""
    db, now = app[keys.DB], app[keys.NOW]()
    announcements = await db.announcements(show.id)
    current_id = await db.show_id_at(now)
    listed, _ = await db.shows(offset + PAST_SHOWS + 2, 0)  # a show a week: a short list
    past = [s for s in listed if s.id != current_id and s.week_start <= now]
    more = ""
    if len(past) > offset + PAST_SHOWS:
        more = f'<p><a href="/?offset={offset + PAST_SHOWS}#past">Older shows →</a></p>'
    past = past[offset:offset + PAST_SHOWS]
    is_current = show.id == current_id
    live = is_current and app[keys.CLOCK].is_live(now)
    kicker = ("On air now" if live else "This week's show") if is_current else "Past show"
    downloads = " ".join(
        f'<a href="/shows/{show.id}/setlist.{f}" download>{f.upper()}</a>'
        for f in SETLIST_FORMATS)
    values = {
        "TITLE": _e(show_title(show)),
        "MODE": mode,
        "SHOW_ID": str(show.id),
        "WEEK_START": _e(show.week_start.isoformat()),
        "LIVE": "true" if live else "false",
        "KICKER": _e(kicker),
        "DATES": _e(f"{_when(show.week_start)} – {_when(show.week_end, year=False)}"),
        "TRACKS": _track_rows(show, announcements),
        "EMPTY_HIDDEN": " hidden" if show.tracks else "",
        **_now_card(show, now_playing(show, announcements)),
        "DOWNLOADS": downloads,
        "PAST": _past_list(past, show.id),
        "MORE": more,
        "HOME": "" if mode == "current" else '<a href="/" class="home">← Live playlist</a>',
    }
    page = (web_dir() / "public.html").read_text(encoding="utf-8")
    # one pass, so text from the data (a title with "{{...}}") is never expanded
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), page)


def _html(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", charset="utf-8",
                        headers=PAGE_HEADERS)


async def show_page(request: web.Request, show: Show) -> web.Response:
    """GET /shows/{id} for a browser (api.show calls it when wants_html)."""
    return _html(await render_page(request.app, show, mode="show"))


async def index(request: web.Request) -> web.Response:
    """GET /: the current show, live."""
    offset = whole_number(request.query.get("offset"), "offset", default=0, maximum=10_000)
    show = await current_show(request.app)
    return _html(await render_page(request.app, show, mode="current", offset=offset))


async def public_file(request: web.Request) -> web.StreamResponse:
    """GET /public/{name}: one of the page's own files (a fixed allow-list)."""
    name = request.match_info["name"]
    if name not in PUBLIC_FILES:
        return json_error(404, "not found")
    path = web_dir() / name
    if not path.is_file():
        return json_error(404, "not found")
    return web.FileResponse(path, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache",
                                           "Content-Type": PUBLIC_FILES[name]})


# --- /ws/public -------------------------------------------------------------------------

@dataclass(eq=False)
class Listener:
    """One public socket and its bounded outbox (already-serialized messages)."""

    ws: web.WebSocketResponse
    peer: str
    outbox: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class PublicFeed:
    """The open public sockets, their limits, and fan-out of public events to them."""

    max_total: int = 1000
    max_per_peer: int = 20
    queue_size: int = 64
    ping_seconds: float = 25.0
    listeners: set[Listener] = field(default_factory=set)
    per_peer: Counter[str] = field(default_factory=Counter)
    closing: bool = False

    def admit(self, peer: str) -> str | None:
        """Why a new socket from `peer` is refused, or None when it may open."""
        if self.closing:
            return "shutting down"
        if len(self.listeners) >= self.max_total:
            return "too many listeners"
        if self.per_peer.get(peer, 0) >= self.max_per_peer:
            return "too many sockets from this address"
        return None

    def add(self, listener: Listener) -> None:
        self.listeners.add(listener)
        self.per_peer[listener.peer] += 1

    def remove(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.discard(listener)
            self.per_peer[listener.peer] -= 1
            if self.per_peer[listener.peer] <= 0:
                del self.per_peer[listener.peer]

    def broadcast(self, message: dict[str, Any]) -> None:
        """Queue `message` for every listener; a full outbox becomes one "resync"."""
        text = json.dumps(message)
        for listener in list(self.listeners):
            if len(listener.outbox) >= self.queue_size:
                listener.outbox.clear()
                listener.outbox.append(json.dumps({"type": "resync"}))
            else:
                listener.outbox.append(text)
            listener.wake.set()


FEED: web.AppKey[PublicFeed] = web.AppKey("public_feed", PublicFeed)


def _int(value: Any) -> int | None:
    return value if type(value) is int and 0 < value < 2**63 else None


async def public_message(app: web.Application, event: dict[str, Any]) -> dict[str, Any] | None:
    """The public form of a bus event (no message text, who or delivery), or None."""
    kind, db = event.get("type"), app[keys.DB]
    if kind == "announcement":
        a = event.get("announcement")
        a = a if isinstance(a, dict) else {}
        show_id, position = _int(a.get("show_id")), _int(a.get("position"))
        if show_id is None or position is None:
            return None
        show = await db.show(show_id)
        st = show.track_at(position) if show is not None else None
        return {"type": "announce", "id": _int(a.get("id")), "show_id": show_id,
                "position": position, "track": st.to_json() if st else None,
                "announced_at": str(a.get("announced_at", ""))}
    if kind == "retracted":
        show_id = _int(event.get("show_id"))
        if show_id is None:
            return None
        show = await db.show(show_id)
        playing = now_playing(show, await db.announcements(show_id)) if show else None
        return {"type": "retracted", "id": _int(event.get("id")), "show_id": show_id,
                "position": _int(event.get("position")), "now_playing": playing}
    if kind == "playlist":
        show_id = _int(event.get("show_id"))
        return {"type": "playlist", "show_id": show_id} if show_id is not None else None
    return None


async def _forward(app: web.Application) -> None:
    """Read the event bus (one subscription for all listeners) and fan out public events."""
    queue = app[keys.EVENTS].subscribe()
    feed = app[FEED]
    try:
        while True:
            event = await queue.get()
            if not feed.listeners:
                continue
            try:
                message = await public_message(app, event)
            except Exception:
                log.exception("public feed: could not prepare a %s event", event.get("type"))
                continue
            if message is not None:
                feed.broadcast(message)
    finally:
        app[keys.EVENTS].unsubscribe(queue)


def _peer(request: web.Request) -> str:
    """The client's address; behind a local reverse proxy, the first X-Forwarded-For hop."""
    remote = request.remote or "unknown"
    with contextlib.suppress(ValueError):
        if ip_address(remote).is_loopback or ip_address(remote).is_private:
            forwarded = request.headers.get("X-Forwarded-For", "").split(",")[0].strip()
            if forwarded:
                return forwarded[:64]
    return remote


async def _send_loop(feed: PublicFeed, listener: Listener) -> None:
    """Drain the outbox; a ping when idle; a listener too slow to take a send is closed."""
    ws = listener.ws
    try:
        await ws.send_str(json.dumps({"type": "hello"}))
        while not ws.closed:
            listener.wake.clear()
            while listener.outbox:
                await asyncio.wait_for(ws.send_str(listener.outbox.popleft()), 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(listener.wake.wait(), feed.ping_seconds)
                continue
            await asyncio.wait_for(ws.send_str('{"type": "ping"}'), 10.0)
    except (TimeoutError, ConnectionError, RuntimeError):
        with contextlib.suppress(Exception):  # wakes the handler's receive loop
            await asyncio.wait_for(ws.close(code=1013, message=b"too slow"), 2.0)


async def public_socket(request: web.Request) -> web.StreamResponse:
    """GET /ws/public: no auth; pushes announce/retracted/playlist; ignores what clients send."""
    feed = request.app[FEED]
    peer = _peer(request)
    refused = feed.admit(peer)
    if refused is not None:
        return json_error(429, refused)
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096, timeout=2.0)
    await ws.prepare(request)
    listener = Listener(ws, peer)
    feed.add(listener)
    sender = asyncio.create_task(_send_loop(feed, listener))
    try:
        async for msg in ws:  # anything a listener sends is read and dropped
            if msg.type == WSMsgType.ERROR or sender.done():
                break
    finally:
        feed.remove(listener)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        if not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
    return ws


async def _feed_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_forward(app), name="public-feed")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    feed = app[FEED]
    feed.closing = True
    await asyncio.gather(*(asyncio.wait_for(li.ws.close(code=1001, message=b"server shutdown"),
                                            2.0) for li in list(feed.listeners)),
                         return_exceptions=True)


def setup_public(app: web.Application) -> None:
    """Mount `/`, `/public/{name}` and `/ws/public` (needs DB, EVENTS, CLOCK, NOW)."""
    app[FEED] = PublicFeed()
    app.cleanup_ctx.append(_feed_ctx)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/", index)
    app.router.add_get("/public/{name:.+}", public_file)
    app.router.add_get("/ws/public", public_socket)
