"""The composition root: builds the aiohttp app and starts/stops every resource in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import httpx
from aiohttp import web

from . import __version__, admin, api, editing, history, keys
from .announce import setup_announcer
from .config import Settings
from .dashboard import setup_dashboard
from .db import Database
from .events import EventBus
from .hub import setup_hub
from .irc.client import DisabledIrc, IrcClient
from .irc.commands import CommandHandler
from .poller import Poller
from .public import setup_public
from .serve import StartupError
from .services import ChannelServices
from .soundcloud import SoundCloudClient
from .tls import https_context
from .webhooks import WebhookOutputs
from .weeks import ShowClock, utcnow

log = logging.getLogger(__name__)
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/126.0 Safari/537.36 ntrbot/{__version__}")


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    try:
        app[keys.DB] = await Database.open(settings.db_path, settings.tz)
    except Exception as exc:
        raise StartupError(f"cannot open database {settings.db_path}: {exc}") from None
    log.info("database open: %s", settings.db_path)
    yield
    await app[keys.DB].close()
    log.info("database closed")


async def http_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    http = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0), verify=https_context(),
                             headers={"User-Agent": USER_AGENT}, follow_redirects=True)
    app[keys.HTTP] = http
    app[keys.SOUNDCLOUD] = SoundCloudClient(
        http, api_base=settings.soundcloud_api_base, web_base=settings.soundcloud_web_base,
        client_id=settings.soundcloud_client_id)
    webhooks = None
    if settings.discord_webhook_url or settings.webhook_urls:
        webhooks = app[keys.WEBHOOKS] = WebhookOutputs(http, settings)
        log.info("webhook outputs: %s", ", ".join(webhooks.names))
    yield
    if webhooks is not None:
        await webhooks.close()
    await http.aclose()


def make_poller(app: web.Application) -> Poller:
    settings = app[keys.SETTINGS]
    return Poller(app[keys.DB], app[keys.SOUNDCLOUD], app[keys.CLOCK],
                  username=settings.soundcloud_user, backfill_weeks=settings.backfill_weeks,
                  interval=settings.poll_interval_seconds,
                  live_interval=settings.live_poll_interval_seconds,
                  events=app[keys.EVENTS], now=app[keys.NOW])


def poller_ctx(run_loop: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        poller = app[keys.POLLER] = make_poller(app)
        task = asyncio.create_task(poller.run(), name="poller") if run_loop else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.info("poller stopped")
    return ctx


async def irc_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not settings.irc_enabled:
        app[keys.IRC] = DisabledIrc(settings)
        yield
        return
    services = ChannelServices(app[keys.DB], app[keys.CLOCK], app[keys.NOW],
                               announcer=lambda: app[keys.ANNOUNCER],
                               poller=lambda: app[keys.POLLER], public_url=settings.public_url)
    clock, now = app[keys.CLOCK], app[keys.NOW]
    client = IrcClient(settings, CommandHandler(services, settings.irc_admins),
                       is_live=lambda: clock.is_live(now()))
    app[keys.IRC] = client
    await client.start()
    yield
    await client.stop()
    log.info("IRC stopped")


def create_app(settings: Settings, *, now: Callable[[], datetime] = utcnow,
               start_poller: bool = True) -> web.Application:
    """Build the whole ntrbot application for `settings`."""
    app = web.Application(middlewares=[api.error_middleware], client_max_size=64 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.NOW] = now
    app[keys.EVENTS] = EventBus()
    app[keys.CURRENT_SHOW] = {}
    app[keys.CLOCK] = ShowClock(settings.show_day, settings.show_hour, settings.tz,
                                timedelta(hours=settings.show_length_hours))
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(http_ctx)
    app.cleanup_ctx.append(poller_ctx(start_poller))
    setup_hub(app)
    app.cleanup_ctx.append(irc_ctx)
    setup_announcer(app)
    if settings.dashboard_enabled:
        setup_dashboard(app)
    app.add_routes(api.routes)
    app.add_routes(history.routes)
    app.add_routes(admin.routes)
    app.add_routes(editing.routes)
    setup_public(app)
    return app
