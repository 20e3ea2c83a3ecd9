"""Typed application keys: the one place that names what lives on the aiohttp app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import httpx

    from ntrbot.announcing.announcer import Announcer
    from ntrbot.announcing.outputs.relay import RelayOutputs
    from ntrbot.announcing.outputs.relay_hub import RelayHub
    from ntrbot.announcing.outputs.webhooks import WebhookOutputs
    from ntrbot.attempts import LoginThrottle
    from ntrbot.events import EventBus
    from ntrbot.fanout import Fanout
    from ntrbot.irc.backend import IrcBackend
    from ntrbot.listeners import PublicFeed
    from ntrbot.settings import Settings
    from ntrbot.soundcloud.client import SoundCloudApi
    from ntrbot.soundcloud.poller import Poller
    from ntrbot.stats import AppStats
    from ntrbot.store.current import CurrentShow
    from ntrbot.store.db import Database
    from ntrbot.weeks import ShowClock

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
DB: web.AppKey[Database] = web.AppKey("db")
EVENTS: web.AppKey[EventBus] = web.AppKey("events")
HTTP: web.AppKey[httpx.AsyncClient] = web.AppKey("http")
SOUNDCLOUD: web.AppKey[SoundCloudApi] = web.AppKey("soundcloud")
POLLER: web.AppKey[Poller] = web.AppKey("poller")
IRC: web.AppKey[IrcBackend] = web.AppKey("irc")
HUB: web.AppKey[RelayHub] = web.AppKey("hub")
RELAYS: web.AppKey[RelayOutputs] = web.AppKey("relays")
ANNOUNCER: web.AppKey[Announcer] = web.AppKey("announcer")
WEBHOOKS: web.AppKey[WebhookOutputs] = web.AppKey("webhooks")
CLOCK: web.AppKey[ShowClock] = web.AppKey("clock")
NOW: web.AppKey[Callable[[], datetime]] = web.AppKey("now")
CURRENT_SHOW: web.AppKey[CurrentShow] = web.AppKey("current_show")
STATS: web.AppKey[AppStats] = web.AppKey("stats")
# The web side's own state: revoked dashboard sessions (id -> when), the login throttle,
# the open /ws/dashboard sockets (each one's meta is the session id it belongs to, closed on
# that logout), the /ws/public listeners.
REVOKED: web.AppKey[dict[str, float]] = web.AppKey("revoked_sessions", dict)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("login_throttle")
SOCKETS: web.AppKey[Fanout[str]] = web.AppKey("dashboard_sockets")
FEED: web.AppKey[PublicFeed] = web.AppKey("public_feed")
