"""Helpers for the dashboard/announce tests: a fake IRC client, seed data, a composed app."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.config import Settings
from ntrbot.db import Database
from ntrbot.irc.delivery import Delivery
from ntrbot.models import Like, Track
from ntrbot.weeks import ShowClock
from tests.support.memory_soundcloud import MemorySoundCloud

WEB_USER = "nick"
WEB_PASSWORD = "correct horse battery staple"
SECRET_KEY = "k" * 40
FROZEN_NOW = datetime(2026, 3, 13, 18, 0, tzinfo=UTC)


class FakeIrc:
    """The IrcClient interface: say() -> the real Delivery, status(), add_listener().

    `mode` says what the server does with the next line: "delivered" (confirms it at once),
    "sent" (written, confirmation pending: `pending` holds it), "queued" (disconnected),
    "refused" (a 404), "failed" (not written) or "raise".
    """

    def __init__(self) -> None:
        self.mode = "delivered"
        self.said: list[tuple[str, str, dict[str, Any]]] = []
        self.pending: list[Delivery] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.connected = True

    async def say(self, target: str, text: str, *, priority: bool = False,
                  fresh_for: float | None = None, confirm: bool = False) -> Delivery:
        self.said.append((target, text, {"priority": priority, "fresh_for": fresh_for,
                                         "confirm": confirm}))
        if self.mode == "raise":
            raise RuntimeError("boom")
        d = Delivery(target, text, priority=priority, confirm=confirm,
                     fresh_for=fresh_for or 180.0)
        if self.mode in ("delivered", "sent", "refused"):
            d.set("sent", f"written to the server for {target}")
            if self.mode == "delivered":
                d.set("delivered", f"in {target} (echoed by the server)")
            elif self.mode == "refused":
                d.set("failed", "404 Cannot send to channel")
            else:
                self.pending.append(d)
        elif self.mode == "queued":
            d.detail = "IRC is disconnected; queued"
            self.pending.append(d)
        else:
            d.set("failed", "not connected")
        return d

    def set_commands(self, commands: Any) -> None:
        self.commands = commands

    async def start(self) -> None:
        return None

    async def stop(self, message: str = "") -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"enabled": True, "connected": self.connected, "nick": "ntrbot",
                "channels": ["#sewerchat"] if self.connected else [], "last_error": None,
                "queued": len([d for d in self.pending if d.state == "queued"])}

    def add_listener(self, cb: Callable[[dict[str, Any]], None]) -> None:
        self.listeners.append(cb)

    def notify(self) -> None:
        for cb in self.listeners:
            cb(self.status())


class FakePoller:
    def __init__(self) -> None:
        self.polls = 0

    def state(self) -> dict[str, Any]:
        return {"last_success": FROZEN_NOW.isoformat(), "last_error": None,
                "next_poll": None, "running": False, "live": False, "last_result": None}

    async def poll_now(self) -> Any:
        self.polls += 1

        class Result:
            def summary(self) -> str:
                return "0 new track(s)"
        return Result()


def dashboard_settings(make_settings: Callable[..., Settings], **kw: Any) -> Settings:
    values: dict[str, Any] = {"web_user": WEB_USER, "web_password": WEB_PASSWORD,
                              "secret_key": SECRET_KEY, "cookie_secure": "false"}
    values.update(kw)
    return make_settings(**values)


def build_app(settings: Settings, irc: Any = None, *,
              now: Callable[[], datetime] = lambda: FROZEN_NOW) -> web.Application:
    """The real app (`create_app`) with a fake IRC and no poller loop."""
    return create_app(settings, irc=irc, soundcloud=MemorySoundCloud([OLD_LIKE]), now=now,
                      start_poller=False)


TRACKS = [
    Track(101, "Sewer Song", "The Rats", "https://soundcloud.com/rats/sewer-song",
          None, 180_000, "cc-by"),
    Track(102, "Cheese\r\nPRIVMSG #x :pwned", "Mouse & Co", "https://soundcloud.com/m/cheese",
          None, 200_000, None),
    Track(103, "Tunnels", "Ratking", "https://soundcloud.com/rk/tunnels", None, 210_000, None),
]
# One like long before any test's show week: a poll finds likes but changes nothing.
OLD_LIKE = Like(Track(1, "Ancient", "Nobody", "https://soundcloud.com/n/ancient"),
                datetime(2020, 1, 1, tzinfo=UTC))
OLD_TRACKS = [
    Track(201, "Last Week", "Oldies", "https://soundcloud.com/o/last", None, 100_000, None),
]


async def seed(db: Database, clock: ShowClock, now: datetime = FROZEN_NOW) -> tuple[int, int]:
    """Three tracks in the current show, one in the previous; returns (current, previous)."""
    start, end = clock.week_of(now)
    pstart, pend = clock.previous_week(start)
    liked = [start + timedelta(hours=i + 1) for i in range(len(TRACKS))]
    await db.save_playlists(TRACKS + OLD_TRACKS, {
        (start, end): [(t.id, at, "like") for t, at in zip(TRACKS, liked, strict=True)],
        (pstart, pend): [(OLD_TRACKS[0].id, pstart + timedelta(hours=2), "like")],
    })
    current = await db.show_id_at(now)
    previous = await db.show_id_at(pstart + timedelta(hours=1))
    assert current is not None and previous is not None
    return current, previous


async def seed_app(app: web.Application) -> tuple[int, int]:
    return await seed(app[keys.DB], app[keys.CLOCK], app[keys.NOW]())


# --- the real process, a real IRC server, a raw observer ------------------------------

LIVE_TRACKS = [
    (11, "Sewer Anthem", "DJ Rat"),
    (12, "Cheese Grater Funk", "Mouse Collective"),
    (13, "Drainpipe Dub", "Ratking"),
    (14, "Neon Gutter", "The Whiskers"),
    (15, "Subway Lullaby", "Pied Piper Sound System"),
    (16, "Midnight Crumbs", "Rodentia"),
]


def live_env(fake: Any, ircd: Any, **extra: str) -> dict[str, str]:
    """Environment for `ntrbot run` against the fake SoundCloud and a local IRC server."""
    from tests.conftest import ADMIN_TOKEN

    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
           "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, "NTR_SHOW_TIMEZONE": "UTC",
           # The week started 3 days ago, so now is inside a known week whatever today is.
           "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday()),
           "NTR_SHOW_HOUR": "0", "NTR_WEB_USER": WEB_USER, "NTR_WEB_PASSWORD": WEB_PASSWORD,
           "NTR_SECRET_KEY": SECRET_KEY, "NTR_COOKIE_SECURE": "false",
           "NTR_IRC_SERVER": ircd.host, "NTR_IRC_PORT": str(ircd.port),
           "NTR_IRC_NICK": "ntrbot", "NTR_IRC_CHANNELS": "#sewerchat",
           "NTR_ANNOUNCE_CHANNEL": "#sewerchat"}
    env.update(extra)
    return env


def live_likes() -> list[dict[str, Any]]:
    from tests.support.fake_soundcloud import make_like

    now = datetime.now(UTC)
    week_start = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    likes = [make_like(tid, week_start + timedelta(hours=i + 1), title=title, artist=artist,
                       permalink_url=live_url(title))
             for i, (tid, title, artist) in enumerate(LIVE_TRACKS)]
    likes.append(make_like(9, week_start - timedelta(days=2), title="Last Week's Closer",
                           artist="Old Rat"))
    return likes


async def wait_bot_ready(base_url: str, tracks: int = len(LIVE_TRACKS),
                         channel: str = "#sewerchat", timeout: float = 40.0) -> None:
    """Until the playlist has `tracks` tracks and the bot sits in `channel`."""
    import httpx

    from tests.support.process import wait_until

    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        async def ready() -> bool:
            health = (await http.get("/health")).json()
            playlist = (await http.get("/playlist")).json()
            return (channel in health["irc"].get("channels", [])
                    and len(playlist["tracks"]) >= tracks)
        await wait_until(ready, timeout=timeout)


def live_url(title: str) -> str:
    return "https://soundcloud.com/ratcave/" + "-".join(title.lower().split())


def announce_line(position: int) -> str:
    """The exact SPEC line for LIVE_TRACKS[position - 1]."""
    _, title, artist = LIVE_TRACKS[position - 1]
    return f"Now Playing: Song #{position}: {title} by {artist} - {live_url(title)}"
