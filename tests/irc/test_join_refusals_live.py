"""Join refusals on real servers (ngircd, InspIRCd 3): +b, +k, +i, +l shown, retried soon."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from ntrbot.irc.client import IrcClient
from tests.support.irc_services import CHANNEL, MakeBot, irc_settings
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc

BOT = "ntrbot"
# (mode to set, mode to lift, numeric, reason word)
RESTRICTIONS = [
    (f"+b {BOT}!*@*", f"-b {BOT}!*@*", "474", "banned"),
    ("+k opensesame", "-k opensesame", "475", "bad key"),
    ("+i", "-i", "473", "invite only"),
    ("+l 1", "-l", "471", "full"),
]


@pytest.fixture(params=["ngircd", "inspircd"])
def opserver(request: pytest.FixtureRequest, ircd_factory: Callable[..., IrcServer]) -> IrcServer:
    """A real server where the channel's first joiner is op."""
    kind: str = request.param
    return ircd_factory(kind)


def refusal(bot: IrcClient) -> Any:
    found = bot.status().join_refusals
    return found[0] if found else None


async def set_mode(op: RawIrc, modes: str) -> None:
    mark = op.mark()
    await op.send(f"MODE {CHANNEL} {modes}")
    await op.wait_for(lambda m: m.command == "MODE" and m.params[:1] == (CHANNEL,), 10, mark)


async def test_each_refusal_is_shown_and_retried_within_seconds(opserver: IrcServer,
                                                                make_bot: MakeBot) -> None:
    op = await RawIrc.connect(opserver.host, opserver.port, "chanop")
    try:
        await op.join(CHANNEL)
        bot = await make_bot(irc_settings(opserver), rejoin_delay=0.1)
        await wait_until(lambda: CHANNEL in bot.status().channels, 30, "the first join")
        for restrict, lift, numeric, reason in RESTRICTIONS:
            await set_mode(op, restrict)
            mark = op.mark()
            await op.send(f"KICK {CHANNEL} {BOT} :test {numeric}")
            await op.wait_for(lambda m: m.command == "KICK", 10, mark)
            shown = await wait_until(lambda: refusal(bot), 20, f"refusal {numeric}")
            assert shown["numeric"] == numeric and shown["reason"] == reason
            assert shown["message"].startswith(f"{CHANNEL}: {reason} ({numeric} ")
            assert bot.status().last_error == f"cannot join {shown['message']}"
            assert CHANNEL not in bot.status().channels
            # the schedule: the first retry 2 s after the refusal, the second 4 s after
            assert shown["attempts"] == 1 and shown["retry_in"] <= 2.0
            await wait_until(lambda: (refusal(bot) or {}).get("attempts", 0) >= 2, 20,
                             "the first retry")
            assert refusal(bot)["retry_in"] <= 4.0
            before = bot.status().join_refusal_counts[numeric]
            await set_mode(op, lift)
            await wait_until(lambda: CHANNEL in bot.status().channels, 20, "the rejoin")
            after = bot.status().join_refusal_counts[numeric]
            assert after - before <= 1  # joined on the next retry (one may have crossed)
            assert bot.status().join_refusals == ()
            assert bot.status().last_error is None
            assert bot.joins.delay(after) <= 16  # never the old 60 s wait
    finally:
        await op.close()


async def test_an_invite_is_taken_at_once(opserver: IrcServer, make_bot: MakeBot) -> None:
    op = await RawIrc.connect(opserver.host, opserver.port, "chanop")
    try:
        await op.join(CHANNEL)
        await set_mode(op, "+i")
        bot = await make_bot(irc_settings(opserver))
        await wait_until(lambda: refusal(bot), 30, "the refusal")
        await op.send(f"INVITE {BOT} {CHANNEL}")
        await wait_until(lambda: CHANNEL in bot.status().channels, 20, "the join")
        assert bot.status().join_refusal_counts["473"] <= 2
    finally:
        await op.close()


async def test_the_configured_key_opens_the_channel_and_is_never_logged(
        opserver: IrcServer, make_bot: MakeBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    op = await RawIrc.connect(opserver.host, opserver.port, "chanop")
    try:
        await op.join(CHANNEL)
        await set_mode(op, "+k sesame-k3y")
        bot = await make_bot(irc_settings(opserver, irc_channels=(f"{CHANNEL} sesame-k3y",)))
        await wait_until(lambda: CHANNEL in bot.status().channels, 30, "the keyed join")
        assert bot.status().join_refusals == ()
        await op.wait_for(lambda m: m.command == "JOIN" and m.nick == BOT, 10)
        assert "sesame-k3y" not in caplog.text
        assert f"JOIN {CHANNEL} ***" in caplog.text  # the line went out, redacted in logs
    finally:
        await op.close()
