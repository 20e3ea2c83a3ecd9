"""Public show history: the announcements of a show and its setlist exports.

`setlist` (rows, CSV/text/JSON renderers) is imported by each handler, so a process that
never serves these routes (a show night with only the dashboard open) does not load it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ntrbot import keys
from ntrbot.http.auth import is_admin_caller
from ntrbot.http.helpers import json_error, show_or_404


async def announcements(request: web.Request) -> web.Response:
    """Every announcement of the show, and per track: first time, offset, repeats."""
    from ntrbot.store import setlist
    show = await show_or_404(request)
    items = await request.app[keys.DB].announcements.for_show(show.id)
    admin = await is_admin_caller(request)  # only they see who announced, and what failed
    if not admin:
        items = [a for a in items if a.aired]  # listeners see only what aired
    rows = setlist.build(show, items)
    out: list[dict[str, Any]] = []
    for a in items:
        offset = int((a.announced_at - show.week_start).total_seconds())
        out.append({**a.to_json(private=admin), "offset_seconds": offset,
                    "offset": setlist.offset_text(offset)})
    return web.json_response({"show_id": show.id, "announcements": out,
                              "tracks": [r.to_json() for r in rows if r.announce_count]},
                             headers={"Vary": "Authorization, Cookie"})


async def setlist_export(request: web.Request) -> web.Response:
    from ntrbot.store import setlist
    fmt = request.match_info["fmt"]
    if fmt not in setlist.FORMATS:
        return json_error(404, "setlist formats: " + ", ".join(setlist.FORMATS))
    show = await show_or_404(request)
    items = await request.app[keys.DB].announcements.for_show(show.id)
    if not await is_admin_caller(request):
        items = [a for a in items if a.aired]  # listeners see only what aired
    rows = setlist.build(show, items)
    name = f"ntr-setlist-{show.week_start.date().isoformat()}.{fmt}"
    return web.Response(text=setlist.render(show, rows, fmt),
                        content_type=setlist.FORMATS[fmt], charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"',
                                 "Vary": "Authorization, Cookie"})
