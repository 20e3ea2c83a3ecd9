"""Public JSON routes: /health, /playlist, /nowplaying, /shows."""

from __future__ import annotations

from aiohttp import web

from ntrbot import keys
from ntrbot.http.helpers import json_error, show_or_404, whole_number
from ntrbot.http.negotiate import wants_html
from ntrbot.http.public import show_page

MAX_LIMIT = 100


async def health(request: web.Request) -> web.Response:
    app = request.app
    return web.json_response({
        "status": "ok", "irc": app[keys.IRC].status().to_json(), "poller": app[keys.POLLER].state(),
        "subscribers": app[keys.HUB].subscribers,
    })


async def playlist(request: web.Request) -> web.Response:
    return web.Response(body=(await request.app[keys.CURRENT_SHOW].entry()).body,
                        content_type="application/json")


async def playlist_track(request: web.Request) -> web.Response:
    position = whole_number(request.match_info["position"], "position", minimum=1)
    show = await request.app[keys.CURRENT_SHOW].show()
    track = show.track_at(position)
    if track is None:
        return json_error(404, f"no track #{position} in the current show "
                               f"({len(show.tracks)} tracks)")
    return web.json_response({**track.to_json(), "show_id": show.id})


async def now_playing(request: web.Request) -> web.Response:
    """The last announced track (not retracted), or 404 before the first announce."""
    db = request.app[keys.DB]
    ann = await db.announcements.last_announcement(aired=True)
    show = await db.show(ann.show_id) if ann else None
    if ann is None or show is None:
        return json_error(404, "nothing announced yet")
    st = next((t for t in show.tracks if t.track.id == ann.track_id), None)
    return web.json_response({
        "message": ann.message, "show_id": ann.show_id, "position": ann.position,
        "announced_at": ann.announced_at.isoformat(),
        "track": st.to_json() if st else None})


async def shows(request: web.Request) -> web.Response:
    limit = whole_number(request.query.get("limit"), "limit", default=20, minimum=1,
                         maximum=MAX_LIMIT)
    offset = whole_number(request.query.get("offset"), "offset", default=0)
    items, total = await request.app[keys.DB].shows(limit, offset)
    return web.json_response({"shows": [s.to_json(with_tracks=False) for s in items],
                              "total": total})


async def show(request: web.Request) -> web.Response:
    found = await show_or_404(request)
    if wants_html(request):
        return await show_page(request, found)
    return web.json_response(found.to_json(), headers={"Vary": "Accept"})
