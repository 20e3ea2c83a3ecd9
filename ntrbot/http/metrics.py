"""GET /metrics: ntrbot's state in the Prometheus text format, for a bearer token."""

from __future__ import annotations

from aiohttp import web

from ntrbot import keys
from ntrbot.http.auth import metrics_identity
from ntrbot.irc.stats import dead_links
from ntrbot.stats import Snapshot

#: the classic text format every Prometheus reads (prometheus-client writes it)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def snapshot(app: web.Application) -> Snapshot:
    """Read everything a scrape reports from where it lives (database, clients, hubs)."""
    db, irc, stats = app[keys.DB], app[keys.IRC], app[keys.STATS]
    link = irc.status()  # DisabledIrc's counts are empty
    sockets = {"/ws/announce": app[keys.HUB].subscribers,
               "/ws/public": len(app[keys.FEED].listeners)}
    if keys.SOCKETS in app:
        sockets["/ws/dashboard"] = len(app[keys.SOCKETS])
    return Snapshot(
        deliveries=await db.announcements.delivery_counts(),
        delivery_seconds=await db.announcements.delivery_seconds(),
        irc_connected=link.connected, reconnects=dict(link.reconnects_by_reason),
        dead_links=dead_links(link.reconnects_by_reason),
        join_refusals=dict(link.join_refusal_counts), polls=dict(app[keys.POLLER].polls),
        websockets=sockets, login_failures=dict(stats.login_failures),
        loop_lag=stats.loop_lag)


async def metrics(request: web.Request) -> web.Response:
    metrics_identity(request)
    app = request.app
    snap = await snapshot(app)
    stats = app[keys.STATS]
    if stats.exporter is None:  # prometheus-client is loaded on the first scrape only
        from ntrbot.metrics import Exporter

        stats.exporter = Exporter()
    return web.Response(body=stats.exporter.render(snap),
                        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
