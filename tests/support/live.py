"""The real process against a real IRC server: its environment, this week's likes (the
`live_fake` fixture), lines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.fake_soundcloud import FakeSoundCloud, make_like
from tests.support.net import wait_until
from tests.support.rawirc import Msg

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
    """LIVE_TRACKS liked in the current show week (of live_env), plus one from last week."""
    now = datetime.now(UTC)
    week_start = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    likes = [make_like(tid, week_start + timedelta(hours=i + 1), title=title, artist=artist,
                       permalink_url=live_url(title))
             for i, (tid, title, artist) in enumerate(LIVE_TRACKS)]
    likes.append(make_like(9, week_start - timedelta(days=2), title="Last Week's Closer",
                           artist="Old Rat"))
    return likes


@pytest.fixture
async def live_fake() -> AsyncIterator[FakeSoundCloud]:
    """The SoundCloud stand-in with live_likes() (this show week's LIVE_TRACKS)."""
    async with FakeSoundCloud() as sc:
        sc.set_likes(live_likes())
        yield sc


def privmsg(text: str, channel: str = "#sewerchat") -> Callable[[Msg], bool]:
    """Matches the PRIVMSG of exactly `text` to `channel`."""
    return lambda m: (m.command == "PRIVMSG" and m.params[:1] == (channel,)
                      and m.params[-1] == text)


async def wait_bot_ready(base_url: str, tracks: int = len(LIVE_TRACKS),
                         channel: str = "#sewerchat", timeout: float = 40.0) -> None:
    """Until the playlist has `tracks` tracks and the bot sits in `channel`."""
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
