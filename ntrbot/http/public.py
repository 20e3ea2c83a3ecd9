"""The listeners' read-only playlist page: `/` and `/shows/{id}` as HTML, and its files."""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime
from typing import Any

from aiohttp import web

from ntrbot import keys
from ntrbot.http.headers import SECURITY_HEADERS
from ntrbot.http.helpers import json_error, web_dir, whole_number
from ntrbot.store.models import Announcement, Show

log = logging.getLogger(__name__)

# The only files /public/{name} serves, and their types.
PUBLIC_FILES = {"public.js": "text/javascript", "public.css": "text/css",
                "style.css": "text/css", "vendor/pico.min.css": "text/css",
                "favicon.svg": "image/svg+xml"}
# SoundCloud's artwork hosts: the only image origins (besides 'self') the page may load.
ARTWORK_HOSTS = ("i1.sndcdn.com", "i2.sndcdn.com", "i3.sndcdn.com", "i4.sndcdn.com")
_ARTWORK = re.compile(r"https://(i[1-4]\.sndcdn\.com)/([A-Za-z0-9._~%/-]+?)"
                      r"(-(?:large|crop|small|badge|tiny|mini|original|t\d+x\d+))?"
                      r"\.(jpg|jpeg|png|gif|webp)(\?[A-Za-z0-9=&._-]*)?")


def artwork_500(url: str | None) -> str | None:
    """The 500×500 variant of a SoundCloud artwork URL (`-large`, `-t300x300` … become
    `-t500x500`); None for anything not on SoundCloud's artwork hosts over https."""
    m = _ARTWORK.fullmatch(url) if isinstance(url, str) else None
    if m is None:
        return None
    host, path, size, ext, query = m.groups()
    return f"https://{host}/{path}{'-t500x500' if size else ''}.{ext}{query or ''}"


def _with_artwork_hosts(csp: str) -> str:
    """`csp` with SoundCloud's artwork hosts added to its img-src (the public page only)."""
    hosts = " ".join(f"https://{h}" for h in ARTWORK_HOSTS)
    parts = [d.strip() for d in csp.split(";") if d.strip()]
    at = next((i for i, d in enumerate(parts) if d.split()[0] == "img-src"), None)
    if at is None:
        parts.append(f"img-src 'self' {hosts}")
    else:
        parts[at] = f"{parts[at]} {hosts}"
    return "; ".join(parts)


PAGE_HEADERS = {**SECURITY_HEADERS, "Cache-Control": "no-cache", "Vary": "Accept",
                "Content-Security-Policy":
                    _with_artwork_hosts(SECURITY_HEADERS["Content-Security-Policy"])}
PAST_SHOWS = 20
SETLIST_FORMATS = ("md", "txt", "csv", "json")
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")

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
    art = artwork_500(st.track.artwork_url) if st is not None else None
    artwork = {"NOW_ART": "image" if art else "placeholder",
               "NOW_ART_SRC": f'src="{_e(art)}" ' if art else "",
               "NOW_ART_HIDDEN": "" if art else " hidden"}
    if st is None:
        return {"NOW_HIDDEN": " hidden", "NOW_POS": "", "NOW_HREF": "", "NOW_TITLE": "",
                "NOW_ARTIST": "", **artwork}
    url = _safe_url(st.track.permalink_url)
    return {"NOW_HIDDEN": "", "NOW_POS": f"#{st.position}",
            "NOW_HREF": f'href="{_e(url)}"' if url else "", "NOW_TITLE": _e(st.track.title),
            "NOW_ARTIST": _e(st.track.artist), **artwork}


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
    announcements = [a for a in await db.announcements.for_show(show.id) if a.aired]
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
    show = await request.app[keys.CURRENT_SHOW].show()
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
