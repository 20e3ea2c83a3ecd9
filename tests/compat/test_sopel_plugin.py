"""The Sopel plugin under Sopel's own pytest kit: commands, relaying, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sopel.tests import rawlist

from tests.support.compat_plugins import SOPEL_DIR, TOKEN
from tests.support.net import free_port
from tests.support.standins import NtrStandIn

CHANNEL = "#ntr"
UNREACHABLE = "ntrbot is unreachable right now, try again later."

TMPL = """
[core]
owner = Owner
nick = TestBot
enable = coretasks,ntr_playlist
extra = {extra}
flood_max_wait = 0

[ntr_playlist]
ws_url = {ws_url}
admin_token = {token}
announce_channel = {channel}
api_base_url = {api}
{more}
"""


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def shut_down(bot: Any) -> None:
    for method in list(bot.shutdown_methods):
        method(bot)


@pytest.fixture
def make_bot(configfactory: Any, botfactory: Any) -> Iterator[Any]:
    bots: list[Any] = []

    def factory(*, ws_url: str = "", token: str = TOKEN, api: str = "", more: str = "") -> Any:
        settings = configfactory(
            "default.cfg",
            TMPL.format(
                extra=SOPEL_DIR, ws_url=ws_url, token=token, channel=CHANNEL, api=api, more=more
            ),
        )
        bot = botfactory.preloaded(settings, ["ntr_playlist"])
        bots.append(bot)
        return bot

    yield factory
    for bot in bots:
        shut_down(bot)


def register(bot: Any) -> None:
    """Make the mock bot connected and registered, as after RPL_WELCOME."""
    bot.backend.connected = True
    bot.on_message(":irc.example.com 001 TestBot :Welcome to the test network")
    assert bot.connection_registered
    bot.backend.clear_message_sent()


HOSTMASK = "TestBot!testbot@bots.example.net"


def join(bot: Any, channel: str = CHANNEL) -> None:
    """The server's echo of the bot's own JOIN: the bot is in ``channel``, its hostmask known."""
    bot.on_message(f":{HOSTMASK} JOIN {channel}")
    assert channel in bot.channels
    bot.backend.clear_message_sent()


def say(bot: Any, ircfactory: Any, userfactory: Any, text: str) -> list[bytes]:
    bot.backend.clear_message_sent()
    irc = ircfactory(bot)
    irc.say(userfactory("Listener"), CHANNEL, text)
    sent: list[bytes] = bot.backend.message_sent
    return sent


@pytest.fixture
def api_bot(make_bot: Any, standin: NtrStandIn) -> Any:
    # the listener is unconfigured here (no ws_url): only the commands are exercised
    return make_bot(api=standin.base_url)


def test_plugin_is_found_as_a_single_file_in_an_extra_dir(api_bot: Any) -> None:
    assert api_bot.has_plugin("ntr_playlist")
    assert api_bot.settings.ntr_playlist.announce_channel == CHANNEL


def test_song(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".song 1") == rawlist(
        f"PRIVMSG {CHANNEL} :Song #1: First Song by Artist 1 - https://soundcloud.com/a/t1"
    )


def test_song_strips_line_breaks_from_data(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".song 2") == rawlist(
        f"PRIVMSG {CHANNEL} :Song #2: Second Song by Artist 2 - https://soundcloud.com/a/t2"
    )


def test_song_not_found(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".song 9") == rawlist(
        f"PRIVMSG {CHANNEL} :No track #9 in the current show."
    )


@pytest.mark.parametrize("arg", ["", "abc", "0", "-1"])
def test_song_usage(api_bot: Any, ircfactory: Any, userfactory: Any, arg: str) -> None:
    assert say(api_bot, ircfactory, userfactory, f".song {arg}") == rawlist(
        f"PRIVMSG {CHANNEL} :Listener: Usage: song N (a track number of the current show)"
    )


def test_playlist(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".playlist") == rawlist(
        f"PRIVMSG {CHANNEL} :Episode 42 (3 tracks): 1. First Song by Artist 1 | "
        "2. Second Song by Artist 2 | 3. Third by Artist 3"
    )


def test_playlist_is_shortened_to_one_line(
    make_bot: Any, standin: NtrStandIn, ircfactory: Any, userfactory: Any
) -> None:
    from tests.support.standins import track

    standin.shows[0]["tracks"] = [track(i, "A rather long title " * 2) for i in range(1, 40)]
    bot = make_bot(api=standin.base_url)
    [line] = say(bot, ircfactory, userfactory, ".playlist")
    assert len(line) <= 512
    assert b"Episode 42 (39 tracks): 1. A rather long title" in line
    assert b"more (song N for details)" in line


def test_lastshow(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".lastshow 2") == rawlist(
        f"PRIVMSG {CHANNEL} :Last show (episode 41): song #2: Old Two by Artist 2 - "
        "https://soundcloud.com/a/t2"
    )
    assert say(api_bot, ircfactory, userfactory, ".lastshow 7") == rawlist(
        f"PRIVMSG {CHANNEL} :No track #7 in the last show (episode 41)."
    )


def test_lastshow_without_previous_show(
    make_bot: Any, standin: NtrStandIn, ircfactory: Any, userfactory: Any
) -> None:
    del standin.shows[1:]
    bot = make_bot(api=standin.base_url)
    assert say(bot, ircfactory, userfactory, ".lastshow 1") == rawlist(
        f"PRIVMSG {CHANNEL} :There is no previous show yet."
    )


def test_np_before_any_announce(api_bot: Any, ircfactory: Any, userfactory: Any) -> None:
    assert say(api_bot, ircfactory, userfactory, ".np") == rawlist(
        f"PRIVMSG {CHANNEL} :Nothing announced yet."
    )


def test_np_asks_ntrbot_first(
    make_bot: Any, standin: NtrStandIn, ircfactory: Any, userfactory: Any
) -> None:
    # A freshly started bot has relayed nothing, but ntrbot knows what was announced.
    standin.last_announce = {"message": "Now Playing: Song #2: Second Song by Artist 2 - u",
                             "show_id": 1, "position": 2, "announced_at": "x"}
    bot = make_bot(api=standin.base_url)
    assert say(bot, ircfactory, userfactory, ".np") == rawlist(
        f"PRIVMSG {CHANNEL} :Now Playing: Song #2: Second Song by Artist 2 - u"
    )


@pytest.mark.parametrize("command", [".song 1", ".playlist", ".lastshow 1"])
def test_unreachable_api(make_bot: Any, ircfactory: Any, userfactory: Any, command: str) -> None:
    bot = make_bot(api=f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    assert say(bot, ircfactory, userfactory, command) == rawlist(
        f"PRIVMSG {CHANNEL} :{UNREACHABLE}"
    )
    assert time.monotonic() - started < 6


def test_relays_announce_to_the_channel(
    make_bot: Any, standin: NtrStandIn, ircfactory: Any, userfactory: Any
) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    listener = bot.memory["ntr_playlist_listener"]
    assert listener.subscribed.wait(5)
    assert standin.subscribe_attempts[0] == {
        "type": "subscribe",
        "token": TOKEN,
        "name": f"TestBot@{bot.settings.core.host}",
        "acks": True,
    }
    standin.send({"type": "status", "subscribers": 3})
    standin.announce("Now Playing: Song #1: First Song by Artist 1 - https://x\r\nQUIT :pwned")
    expected = rawlist(
        f"PRIVMSG {CHANNEL} :Now Playing: Song #1: First Song by Artist 1 - https://x QUIT :pwned"
    )
    assert wait_for(lambda: bot.backend.message_sent == expected), bot.backend.message_sent
    assert say(bot, ircfactory, userfactory, ".np") == rawlist(
        f"PRIVMSG {CHANNEL} :Now Playing: Song #1: First Song by Artist 1 - https://x QUIT :pwned"
    )


def test_relay_waits_for_registration(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    listener = bot.memory["ntr_playlist_listener"]
    assert listener.subscribed.wait(5)
    standin.announce("Now Playing: early")
    time.sleep(0.5)
    assert bot.backend.message_sent == []
    bot.backend.connected = True
    bot.on_message(":irc.example.com 001 TestBot :Welcome")
    join(bot)
    assert wait_for(
        lambda: rawlist(f"PRIVMSG {CHANNEL} :Now Playing: early")[0] in bot.backend.message_sent
    )


def test_wrong_token_is_refused_and_logged(
    make_bot: Any, standin: NtrStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot(ws_url=standin.ws_url, token="wrong", api=standin.base_url)
    listener = bot.memory["ntr_playlist_listener"]
    assert wait_for(lambda: listener.last_close_code == 4001)
    assert standin.clients == []
    assert wait_for(lambda: any("4001" in r.getMessage() for r in caplog.records))
    time.sleep(1.0)
    assert len(standin.subscribe_attempts) == 1  # backing off, not hammering


def test_shutdown_stops_and_joins_the_listener(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    listener = bot.memory["ntr_playlist_listener"]
    assert listener.subscribed.wait(5)
    started = time.monotonic()
    shut_down(bot)
    assert time.monotonic() - started < 3
    assert not listener.alive
    assert "ntr_playlist_listener" not in bot.memory
    assert wait_for(lambda: standin.clients == [])
    assert "ntr-announce-listener" not in [t.name for t in threading.enumerate()]


# --- round 2: acks after bot.say, failures, hostile announces -----------------------------------


def wait_ack(standin: NtrStandIn, announcement_id: int, timeout: float = 5.0) -> dict[str, Any]:
    assert wait_for(lambda: standin.acks(announcement_id), timeout), standin.received
    [ack] = standin.acks(announcement_id)
    return ack


def privmsgs(bot: Any) -> list[bytes]:
    return [line for line in bot.backend.message_sent if line.startswith(b"PRIVMSG ")]


def test_acks_after_bot_say_has_posted_the_line(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)
    lines_at_ack: list[list[bytes]] = []

    def acked() -> bool:
        sent = list(bot.backend.message_sent)  # read before the acks: the ack comes last
        if standin.acks(12):
            lines_at_ack.append(sent)
            return True
        return False

    standin.announce("Now Playing: Song #1: First Song by Artist 1 - https://x", announcement_id=12)
    assert wait_for(acked)
    assert lines_at_ack[0] == rawlist(
        f"PRIVMSG {CHANNEL} :Now Playing: Song #1: First Song by Artist 1 - https://x"
    )
    assert standin.acks(12) == [{"type": "ack", "id": 12, "ok": True}]


def test_an_announce_without_id_is_posted_but_not_acked(
    make_bot: Any, standin: NtrStandIn
) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)
    standin.announce("Now Playing: old server")
    standin.announce("Now Playing: new server", announcement_id=3)
    wait_ack(standin, 3)
    assert privmsgs(bot) == rawlist(
        f"PRIVMSG {CHANNEL} :Now Playing: old server", f"PRIVMSG {CHANNEL} :Now Playing: new server"
    )
    assert [m["id"] for m in standin.acks()] == [3]


def test_relay_name_setting_overrides_nick_at_server(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url, more="relay_name = sewer-sopel")
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)
    assert standin.subscribe_attempts[0]["name"] == "sewer-sopel"


def test_not_in_the_channel_acks_false_with_the_reason(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    listener = bot.memory["ntr_playlist_listener"]
    listener.post_wait = 0.3
    assert listener.subscribed.wait(5)
    standin.announce("Now Playing: nobody hears this", announcement_id=20)
    assert wait_ack(standin, 20) == {
        "type": "ack", "id": 20, "ok": False, "detail": "not connected to IRC"
    }
    register(bot)  # registered, but never joined the announce channel
    standin.announce("Now Playing: still nobody", announcement_id=21)
    assert wait_ack(standin, 21) == {
        "type": "ack", "id": 21, "ok": False, "detail": f"not in {CHANNEL}"
    }
    assert privmsgs(bot) == []


def test_an_exception_in_bot_say_acks_false(
    make_bot: Any, standin: NtrStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Attempt to send data to unconnected backend.")

    monkeypatch.setattr(bot, "say", broken)
    standin.announce("Now Playing: x", announcement_id=30)
    assert wait_ack(standin, 30) == {
        "type": "ack",
        "id": 30,
        "ok": False,
        "detail": "RuntimeError: Attempt to send data to unconnected backend.",
    }


def test_a_line_sopel_swallows_as_a_loop_acks_false(make_bot: Any, standin: NtrStandIn) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)
    threshold = bot.settings.core.antiloop_threshold
    for n in range(threshold + 1):
        standin.announce("Now Playing: same again", announcement_id=40 + n)
    last = wait_ack(standin, 40 + threshold)
    assert [m["ok"] for m in standin.acks()] == [True] * threshold + [False]
    assert "anti-loop" in last["detail"]


HOSTILE_URL = "https://soundcloud.com/some-artist/a-rather-long-track-name-1"


@pytest.mark.parametrize("filler", ["Title ", "Tïtlé\u2603", "X"])
def test_a_hostile_announce_is_one_safe_line_within_the_limit_keeping_the_url(
    make_bot: Any, standin: NtrStandIn, filler: str
) -> None:
    bot = make_bot(ws_url=standin.ws_url, api=standin.base_url)
    register(bot)
    join(bot)
    assert bot.memory["ntr_playlist_listener"].subscribed.wait(5)
    title = (filler * 2000)[:2000]
    message = (
        f"Now Playing: Song #1: \x01ACTION {title}\r\nQUIT :pwned\x00\x0304,01red\x02"
        f" by Artist\n\r - {HOSTILE_URL}"
    )
    standin.announce(message, announcement_id=50)
    assert wait_ack(standin, 50)["ok"] is True
    [line] = privmsgs(bot)
    wire = f":{HOSTMASK} ".encode() + line  # what the channel receives
    assert len(wire) <= 512, len(wire)
    assert line.endswith(f" {HOSTILE_URL}\r\n".encode())
    body = line[:-2]
    assert not any(b < 0x20 or b == 0x7F for b in body), body
    assert body.startswith(f"PRIVMSG {CHANNEL} :Now Playing: Song #1: ACTION ".encode())
    assert "\u2026".encode() in body
    assert len(wire) > 400  # shortened to fit, not to nothing
