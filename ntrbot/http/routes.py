"""Every route ntrbot serves, in one list."""

from __future__ import annotations

from aiohttp import web

from ntrbot.http import admin, dashboard, editing, history, hub, metrics, public, public_feed
from ntrbot.http import shows as api


def add_routes(app: web.Application, *, dashboard_enabled: bool) -> None:
    """Mount every route; the dashboard's only when it is enabled (otherwise they are 404)."""
    r = app.router
    # Public JSON (api.py); /shows/{id} is HTML too for a browser (public.py).
    r.add_get("/health", api.health)
    r.add_get("/playlist", api.playlist)
    r.add_get("/playlist/{position}", api.playlist_track)
    r.add_get("/nowplaying", api.now_playing)
    r.add_get("/shows", api.shows)
    r.add_get("/shows/{show_id}", api.show)
    # Prometheus text for a bearer admin or metrics token (metrics.py).
    r.add_get("/metrics", metrics.metrics)
    # Show history and setlists (history.py).
    r.add_get("/shows/{show_id}/announcements", history.announcements)
    r.add_get("/shows/{show_id}/setlist.{fmt}", history.setlist_export)
    # The listeners' page and its live feed (public.py, public_feed.py).
    r.add_get("/", public.index)
    r.add_get("/public/{name:.+}", public.public_file)
    r.add_get("/ws/public", public_feed.public_socket)
    # The announce stream for compat plugins (hub.py).
    r.add_get("/ws/announce", hub.hub_socket)
    # Admin: bearer token or dashboard session (admin.py, editing.py).
    r.add_post("/admin/refresh", admin.refresh)
    r.add_post("/admin/announce", admin.announce)
    r.add_post("/admin/shows/{show_id}/tracks", editing.add_track)
    r.add_delete("/admin/shows/{show_id}/tracks/{position}", editing.remove_track)
    r.add_patch("/admin/shows/{show_id}/tracks/{position}", editing.move_track)
    r.add_patch("/admin/shows/{show_id}", editing.set_episode)
    r.add_delete("/admin/announcements/{announcement_id}", editing.retract)
    r.add_get("/admin/delay", editing.get_delay)
    r.add_put("/admin/delay", editing.put_delay)
    if dashboard_enabled:
        # The host's dashboard: login, page, socket, files (dashboard.py).
        r.add_get("/login", dashboard.login_get)
        r.add_post("/login", dashboard.login_post)
        r.add_get("/logout", dashboard.logout_get)
        r.add_post("/logout", dashboard.logout)
        r.add_get("/dashboard", dashboard.dashboard_page)
        r.add_get("/ws/dashboard", dashboard.dashboard_socket)
        r.add_get("/static/{name:.+}", dashboard.static_file)
