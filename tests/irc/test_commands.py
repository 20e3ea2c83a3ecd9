"""Command parsing and replies, against fake services (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ntrbot.irc.commands import CommandHandler, ago, parse_position
from tests.support.irc_services import FakeServices

NOW = datetime(2026, 3, 12, 3, 0, tzinfo=UTC)
USER = "listener!~l@listeners.example"
BOSS = "Boss!~b@home.example"


@pytest.fixture
def handler(services: FakeServices) -> CommandHandler:
    return CommandHandler(services, ["boss!*@home.example"], clock=lambda: NOW)


async def reply(handler: CommandHandler, text: str, source: str = USER) -> list[str]:
    return await handler.handle(source, "#sewerchat", text)


@pytest.mark.parametrize("text", [
    "hello", "np", "! np", "!", "!!", "!unknown", "!nope 1 2", "", "   ", "?np",
])
async def test_non_commands_are_ignored(handler: CommandHandler, text: str) -> None:
    assert await reply(handler, text) == []


@pytest.mark.parametrize("text, expected", [
    ("!song 1", "Song #1: First by Artist 1 - https://soundcloud.com/a1/t1"),
    ("!song #3", "Song #3: Third by Artist 3 - https://soundcloud.com/a3/t3"),
    ("!SONG 2", "Song #2: Second by Artist 2 - https://soundcloud.com/a2/t2"),
    ("  !song   2  ", "Song #2: Second by Artist 2 - https://soundcloud.com/a2/t2"),
    ("!song 4", "No song #4: this week's show has 3 tracks."),
    ("!lastshow 2", "Last show: Song #2: Old two by Artist 2 - https://soundcloud.com/a2/t2"),
    ("!lastshow 9", "Last show: No song #9: the last show has 2 tracks."),
    ("!playlist", "This week (episode 42): 3 tracks - https://ntr.example/playlist"),
    ("!lastshow", "Last show (episode 41): 2 tracks - https://ntr.example/playlist"),
    ("!np", "Nothing announced yet."),
])
async def test_public_commands(handler: CommandHandler, text: str, expected: str) -> None:
    assert await reply(handler, text) == [expected]


@pytest.mark.parametrize("text", [
    "!song", "!song x", "!song 0", "!song -1", "!song 1.5", "!song 1 2", "!song 99999999",
    "!song ٣", "!lastshow x", "!lastshow 1 2", "!announce", "!announce zero",
])
async def test_bad_arguments_get_usage(handler: CommandHandler, text: str) -> None:
    out = await reply(handler, text, BOSS)
    assert len(out) == 1 and out[0].startswith("Usage: !")


async def test_now_playing(handler: CommandHandler, services: FakeServices) -> None:
    show = services.current
    assert show is not None
    services.playing = (show, show.tracks[2], NOW - timedelta(minutes=5, seconds=10))
    assert await reply(handler, "!np") == [
        "Now playing: Song #3: Third by Artist 3 - https://soundcloud.com/a3/t3 "
        "(announced 5 min ago)"]


@pytest.mark.parametrize("delta, text", [
    (timedelta(seconds=5), "just now"), (timedelta(minutes=1), "1 min ago"),
    (timedelta(hours=2), "2 h ago"), (timedelta(hours=2, minutes=3), "2 h 3 min ago"),
    (timedelta(days=1, hours=1), "1 day ago"), (timedelta(days=3), "3 days ago"),
])
def test_ago(delta: timedelta, text: str) -> None:
    assert ago(NOW - delta, NOW) == text


async def test_playlist_without_link_lists_tracks(handler: CommandHandler,
                                                  services: FakeServices) -> None:
    services.url = None
    assert await reply(handler, "!playlist") == [
        "This week (episode 42): 3 tracks: #1 First by Artist 1; #2 Second by Artist 2; "
        "#3 Third by Artist 3"]


async def test_no_show_yet(handler: CommandHandler, services: FakeServices) -> None:
    services.current = services.previous = None
    assert await reply(handler, "!song 1") == ["No show this week yet."]
    assert await reply(handler, "!playlist") == ["No show this week yet."]
    assert await reply(handler, "!lastshow 1") == ["There is no previous show yet."]


async def test_help_mentions_admin_commands_only_for_admins(handler: CommandHandler) -> None:
    [public] = await reply(handler, "!help")
    [admin] = await reply(handler, "!help", BOSS)
    assert "!song N" in public and "!announce" not in public
    assert "!announce N" in admin and "!refresh" in admin


@pytest.mark.parametrize("source", [
    USER, "boss!~b@evil.example", "boss", "", "Boss!~b@home.example.evil",
])
async def test_admin_commands_refused(handler: CommandHandler, services: FakeServices,
                                      source: str) -> None:
    for text in ("!announce 1", "!refresh"):
        [out] = await reply(handler, text, source)
        assert "admins only" in out
    assert services.announced == [] and services.refreshed == 0


async def test_admin_commands(handler: CommandHandler, services: FakeServices) -> None:
    assert await reply(handler, "!announce 2", BOSS) == ["Announced #2"]
    assert await reply(handler, "!refresh", BOSS) == ["Refreshed: 3 tracks"]
    assert services.announced == [(2, "Boss")] and services.refreshed == 1


async def test_service_failure_is_a_short_reply(handler: CommandHandler,
                                                services: FakeServices) -> None:
    services.fail = RuntimeError("database is locked")
    assert await reply(handler, "!song 1") == ["Sorry, !song failed; try again later."]


def test_custom_prefix(services: FakeServices) -> None:
    assert CommandHandler(services, [], prefix=".").prefix == "."


@pytest.mark.parametrize("arg, expected", [
    ("1", 1), ("#12", 12), ("007", 7), ("0", None), ("", None), ("1e3", None),
    ("100000", 100000), ("100001", None), ("²", None),
])
def test_parse_position(arg: str, expected: int | None) -> None:
    assert parse_position(arg) == expected
