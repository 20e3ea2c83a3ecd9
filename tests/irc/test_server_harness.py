"""Each real test server with ops and opers (ircd-hybrid, InspIRCd): BOT=, +m/+b/KICK, KILL,
stop/start on the same port. Server-specific checks stay in test_<server>_server.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.ircd import IrcServer, running_server, server_kinds
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc, is_cmd

CHANNEL = "#c"


@pytest.fixture(params=server_kinds("hybrid", "inspircd"))
def server(request: pytest.FixtureRequest) -> Iterator[IrcServer]:
    """Each server in turn; a machine without one skips just its param (markers hybrid,
    inspircd)."""
    with running_server(request.param) as started:
        yield started


async def test_registration_advertises_bot_mode(server: IrcServer) -> None:
    user = await RawIrc.connect(server.host, server.port, "botty")
    try:
        isupport = await user.wait_for(
            lambda m: m.command == "005" and any(p.startswith("BOT=") for p in m.params))
        assert "BOT=B" in isupport.params
    finally:
        await user.close()


async def test_first_joiner_is_op_moderates_bans_and_kicks(server: IrcServer) -> None:
    host, port = server.host, server.port
    op = await RawIrc.connect(host, port, "chanop")
    other = await RawIrc.connect(host, port, "pleb")
    try:
        mark = op.mark()
        await op.join(CHANNEL)
        names = await op.wait_for(is_cmd("353", "chanop"), since=mark)
        assert "@chanop" in names.params[-1].split()

        mark = op.mark()
        await op.send(f"MODE {CHANNEL} +m")
        await op.wait_for(lambda m: m.command == "MODE" and m.params[-1] == "+m", since=mark)

        await other.join(CHANNEL)
        mark = other.mark()
        await other.say(CHANNEL, "can anyone hear me")
        refused = await other.wait_for(is_cmd("404", "pleb", CHANNEL), since=mark)
        assert refused.prefix == "irc.test"
        assert not [m for m in op.messages() if "can anyone hear me" in m.raw]

        await op.send(f"MODE {CHANNEL} +b pleb!*@*")
        mark = other.mark()
        await op.send(f"KICK {CHANNEL} pleb :out you go")
        kick = await other.wait_for(is_cmd("KICK", CHANNEL, "pleb"), since=mark)
        assert kick.nick == "chanop" and kick.params[-1] == "out you go"
        await op.wait_for(is_cmd("KICK", CHANNEL, "pleb"))

        mark = other.mark()
        await other.send(f"JOIN {CHANNEL}")
        await other.wait_for(is_cmd("474", "pleb", CHANNEL), since=mark)
    finally:
        await other.close()
        await op.close()


async def test_oper_can_kill(server: IrcServer) -> None:
    host, port = server.host, server.port
    oper = await RawIrc.connect(host, port, "boss")
    victim = await RawIrc.connect(host, port, "victim")
    try:
        await oper.send("OPER {} {}".format(*server.oper))
        await oper.wait_for(is_cmd("381", "boss"))
        await oper.send("KILL victim :test kill")
        await victim.wait_for(lambda m: m.command == "ERROR")
    finally:
        await victim.close()
        await oper.close()


async def test_stop_start_keeps_the_port(server: IrcServer) -> None:
    port = server.port
    for cycle in range(2):
        user = await RawIrc.connect(server.host, port, f"survivor{cycle}")
        server.stop()
        assert not server.running

        def saw_eof(u: RawIrc = user) -> bool:
            return u.lines[-1:] == [""]
        await wait_until(saw_eof, 10, "the client to see EOF")
        await user.close()
        server.start()
        assert server.running and server.port == port
    again = await RawIrc.connect(server.host, port, "survivor")
    try:
        await again.join(CHANNEL)
    finally:
        await again.close()
