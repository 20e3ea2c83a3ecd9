"""The composition root: builds the aiohttp app and starts/stops every resource in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

from aiohttp import web

from ntrbot import __version__, keys
from ntrbot.announcing.announcer import Announcer
from ntrbot.announcing.channel_services import ChannelServices
from ntrbot.announcing.outputs import Output
from ntrbot.announcing.outputs.irc import IrcOutputs
from ntrbot.events import EventBus
from ntrbot.http.dashboard import setup_dashboard
from ntrbot.http.helpers import error_middleware
from ntrbot.http.hub import setup_hub
from ntrbot.http.public_feed import setup_public_feed
from ntrbot.http.routes import add_routes
from ntrbot.irc.backend import IrcBackend
from ntrbot.irc.commands import CommandHandler
from ntrbot.irc.disabled import DisabledIrc
from ntrbot.serve import StartupError
from ntrbot.settings import Settings
from ntrbot.soundcloud.client import SoundCloudApi, SoundCloudClient
from ntrbot.soundcloud.outgoing import http_client
from ntrbot.soundcloud.poller import Poller
from ntrbot.stats import AppStats
from ntrbot.store.current import CurrentShow
from ntrbot.store.db import Database
from ntrbot.weeks import ShowClock, utcnow

log = logging.getLogger(__name__)
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              f"Chrome/126.0 Safari/537.36 ntrbot/{__version__}")


def show_clock(settings: Settings) -> ShowClock:
    """The weekly show clock of `settings` (show day, hour, length, time zone)."""
    return ShowClock(settings.show_day, settings.show_hour, settings.tz,
                     timedelta(hours=settings.show_length_hours))


def make_irc(settings: Settings, clock: ShowClock,
             now: Callable[[], datetime]) -> IrcBackend:
    """The IRC client of `settings`, or the stand-in that fails every line when IRC is off."""
    if not settings.irc_enabled:
        return DisabledIrc(settings)
    from ntrbot.irc.client import IrcClient

    return IrcClient(settings, is_live=lambda: clock.is_live(now()))


async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
    """The event-loop lag probe that /metrics reports, for the app's whole life."""
    task = asyncio.create_task(app[keys.STATS].loop_lag.run(), name="loop-lag")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    try:
        db = app[keys.DB] = await Database.open(settings.db_path, settings.tz)
    except Exception as exc:
        raise StartupError(f"cannot open database {settings.db_path}: {exc}") from None
    app[keys.CURRENT_SHOW] = CurrentShow(db, app[keys.CLOCK], app[keys.NOW])
    log.info("database open: %s", settings.db_path)
    yield
    await app[keys.DB].close()
    log.info("database closed")


def http_ctx(soundcloud: SoundCloudApi | None) -> Callable[[web.Application],
                                                            AsyncIterator[None]]:
    """The outgoing HTTP client, with SoundCloud (or its stand-in) and the webhooks on it."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        http = http_client(USER_AGENT)
        app[keys.HTTP] = http
        app[keys.SOUNDCLOUD] = soundcloud or SoundCloudClient(
            http, api_base=settings.soundcloud_api_base, web_base=settings.soundcloud_web_base,
            client_id=settings.soundcloud_client_id)
        webhooks = None
        if settings.discord_webhook_url or settings.webhook_urls:
            from ntrbot.announcing.outputs.webhooks import (
                WebhookOutputs,  # only when some are set up (memory)
            )

            webhooks = app[keys.WEBHOOKS] = WebhookOutputs(http, settings)
            log.info("webhook outputs: %s", ", ".join(webhooks.names))
        yield
        if webhooks is not None:
            await webhooks.close()
        await http.aclose()
    return ctx


def poller_ctx(run_loop: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    """The SoundCloud poller; its loop runs only when `run_loop` (a test polls by hand)."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        poller = app[keys.POLLER] = Poller(
            app[keys.DB], app[keys.SOUNDCLOUD], app[keys.CLOCK],
            username=settings.soundcloud_user, backfill_weeks=settings.backfill_weeks,
            interval=settings.poll_interval_seconds,
            live_interval=settings.live_poll_interval_seconds,
            events=app[keys.EVENTS], now=app[keys.NOW])
        task = asyncio.create_task(poller.run(), name="poller") if run_loop else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            log.info("poller stopped")
    return ctx


def announcer_ctx(sleep: Callable[[float], Awaitable[None]]) -> Callable[
        [web.Application], AsyncIterator[None]]:
    """The announcer over every output (IRC channels, relays, webhooks), waiting by
    `sleep`, and the channel commands handed to IRC."""
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings, db, irc = app[keys.SETTINGS], app[keys.DB], app[keys.IRC]
        outputs: list[Output] = [app[keys.RELAYS]]
        if keys.WEBHOOKS in app:
            outputs.append(app[keys.WEBHOOKS])
        announcer = app[keys.ANNOUNCER] = Announcer(
            db, IrcOutputs(irc, settings), outputs, app[keys.EVENTS], settings,
            clock=app[keys.NOW], sleep=sleep)
        services = ChannelServices(db, app[keys.CURRENT_SHOW], announcer, app[keys.POLLER],
                                   public_url=settings.public_url)
        irc.set_commands(CommandHandler(services, settings.irc_admins))
        events = app[keys.EVENTS]
        irc.add_listener(lambda status: events.publish("irc", {"irc": status.to_json()}))
        yield
    return ctx


async def irc_ctx(app: web.Application) -> AsyncIterator[None]:
    """IRC connecting in the background; QUIT on the way out."""
    await app[keys.IRC].start()
    yield
    await app[keys.IRC].stop()
    log.info("IRC stopped")


async def pending_ctx(app: web.Application) -> AsyncIterator[None]:
    """Announces still waiting for their air time resume; on the way out the follow-ups
    stop (before IRC quits) and the waiting ones stay recorded for the next start."""
    await app[keys.ANNOUNCER].start()
    yield
    await app[keys.ANNOUNCER].close()


def create_app(settings: Settings, *, irc: IrcBackend | None = None,
               soundcloud: SoundCloudApi | None = None,
               now: Callable[[], datetime] = utcnow,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
               start_poller: bool = True) -> web.Application:
    """Build the whole ntrbot application for `settings`.

    `irc` and `soundcloud` replace the real clients (tests, the demo); `now` is the clock
    and `sleep` what the announcer waits by (an announce's air time, its confirmation).
    """
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.NOW] = now
    app[keys.EVENTS] = EventBus()
    app[keys.STATS] = AppStats()
    app[keys.CLOCK] = clock = show_clock(settings)
    app[keys.IRC] = irc if irc is not None else make_irc(settings, clock, now)
    setup_hub(app)
    app.cleanup_ctx.append(loop_lag_ctx)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(http_ctx(soundcloud))
    app.cleanup_ctx.append(poller_ctx(start_poller))
    app.cleanup_ctx.append(announcer_ctx(sleep))
    app.cleanup_ctx.append(irc_ctx)
    app.cleanup_ctx.append(pending_ctx)
    setup_public_feed(app)
    if settings.dashboard_enabled:
        setup_dashboard(app)
    add_routes(app, dashboard_enabled=settings.dashboard_enabled)
    return app
