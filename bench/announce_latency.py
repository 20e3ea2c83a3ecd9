"""Announce latency: HTTP announce -> PRIVMSG at a raw observer, direct vs relayed by Sopel."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from collections.abc import Callable

import aiohttp

from bench.common import (
    ADMIN_TOKEN,
    CHANNEL,
    IrcObserver,
    PySpy,
    Stack,
    cpu_seconds,
    header,
    irc_env,
    ms,
    ntr_env,
    privmsg_from,
    says,
    summary,
    verdict,
    wait_for,
    week_likes,
)
from tests.support import bots

NICK, SOPEL_NICK = "ntrbot", "ntrsopel"
# Sopel's own flood control off for the bench, as NTR_IRC_FLOOD_BURST is for ntrbot.
SOPEL_FLOOD = "flood_burst_lines = 1000\nflood_refill_rate = 1000\nflood_empty_wait = 0\n"


def start_sopel(irc_host: str, irc_port: int, ws_url: str, api_base_url: str,
                stack: Stack) -> bots.BotProcess:
    """tests.support.bots.start_sopel with Sopel's flood limits raised (same plugin, same user)."""
    def quieter_and_unthrottled(cfg: str) -> str:
        cfg = cfg.replace("logging_level = INFO", "logging_level = WARNING")
        return cfg.replace("[core]\n", "[core]\n" + SOPEL_FLOOD, 1)

    bot = bots.start_sopel(irc_host, irc_port, SOPEL_NICK, CHANNEL, ws_url, api_base_url,
                           ADMIN_TOKEN, stack.workdir / "bots", join_timeout=60.0,
                           edit_config=quieter_and_unthrottled)
    if bot.keep_dir is not None:
        home = bot.workdir
        stack.closers.append(lambda: shutil.rmtree(home, ignore_errors=True))
    return bot


async def main(count: int, warmup: int, gap: float, profile: bool, compat: bool,
               ircd_kind: str | None) -> None:
    header("announce latency: POST /admin/announce -> PRIVMSG seen by a raw IRC client")
    stack = Stack.new("announce")
    sopel: bots.BotProcess | None = None
    try:
        fake = await stack.start_fake(week_likes(30))
        ircd = stack.start_ircd(ircd_kind)
        obs = await IrcObserver.connect(ircd.host, ircd.port, "observer")
        await obs.join(CHANNEL)
        bot = await stack.start_ntrbot({**ntr_env(fake), **irc_env(ircd, nick=NICK)})
        assert bot.proc is not None
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with aiohttp.ClientSession(bot.base_url) as http:
            async def ready() -> bool:
                async with http.get("/health") as r:
                    h = await r.json()
                async with http.get("/playlist") as r:
                    p = await r.json()
                return CHANNEL in h["irc"]["channels"] and len(p["tracks"]) == 30
            await wait_for(ready, 30, "ntrbot in the channel with the playlist")
            async with http.get("/playlist") as r:
                show_id = (await r.json())["id"]
            if compat:
                ws_url = bot.base_url.replace("http://", "ws://") + "/ws/announce"
                sopel = await asyncio.to_thread(start_sopel, ircd.host, ircd.port, ws_url,
                                                bot.base_url, stack)

                async def subscribed() -> bool:
                    async with http.get("/health") as r:
                        subscribers: int = (await r.json())["subscribers"]
                        return subscribers >= 1
                await wait_for(subscribed, 30, "Sopel subscribed to /ws/announce")
            direct: list[float] = []
            relayed: list[float] = []
            http_rt: list[float] = []
            hop: list[float] = []
            states: dict[str, int] = {}
            spy = None
            cpu0 = 0.0
            for i in range(warmup + count):
                if i == warmup:
                    cpu0 = cpu_seconds(bot.proc.pid)
                    if profile:
                        spy = PySpy(bot.proc.pid, 2 + count * (gap + 0.02),
                                    stack.workdir / "announce.raw")
                position = i % 30 + 1
                tag = f"Song #{position}: Bench Track {position} by"
                since = len(obs.lines)
                t0 = time.perf_counter()
                async with http.post("/admin/announce", headers=headers, json={
                        "show_id": show_id, "position": position, "force": True}) as resp:
                    body = await resp.json()
                t_http = time.perf_counter()
                if resp.status != 200:
                    raise RuntimeError(f"announce failed: {resp.status} {body}")
                if i >= warmup:
                    states[body["delivery"]] = states.get(body["delivery"], 0) + 1
                def seen(nick: str, tag: str = tag) -> Callable[[float, str], bool]:
                    return lambda t, ln: tag in (privmsg_from(ln, nick) or "")
                t_direct, _ = await obs.wait(seen(NICK), 10, since)
                t_sopel = None
                if compat:
                    t_sopel, _ = await obs.wait(seen(SOPEL_NICK), 10, since)
                if i >= warmup:
                    direct.append(t_direct - t0)
                    http_rt.append(t_http - t0)
                    if t_sopel is not None:
                        relayed.append(t_sopel - t0)
                        hop.append(t_sopel - t_direct)
                await asyncio.sleep(gap)
            cpu = cpu_seconds(bot.proc.pid) - cpu0
            # floors, same run: the IRC hop alone and an HTTP round trip alone
            sender = await IrcObserver.connect(ircd.host, ircd.port, "rawsender")
            await sender.join(CHANNEL)
            irc_hop: list[float] = []
            health_rt: list[float] = []
            for i in range(min(count, 60)):
                since = len(obs.lines)
                text = f"raw hop {i}"
                t0 = time.perf_counter()
                sender.send(f"PRIVMSG {CHANNEL} :{text}")
                at, _ = await obs.wait(says("rawsender", text, exact=True), 10, since)
                irc_hop.append(at - t0)
                t0 = time.perf_counter()
                async with http.get("/health") as r:
                    await r.read()
                health_rt.append(time.perf_counter() - t0)
                await asyncio.sleep(gap)
            sender.close()
        obs.close()
        print(f"IRC server: {ircd.kind} on loopback; ntrbot flood burst 1000"
              + ("; Sopel 8 flood limits raised" if compat else "")
              + f"; {count} announces (+{warmup} warm-up), {gap * 1e3:.0f} ms apart, force=true")
        print(f"direct  (ntrbot's own IRC client)      {ms(direct)}")
        if compat:
            print(f"compat  (ntrbot hub -> Sopel plugin)   {ms(relayed)}")
            print(f"        extra hop hub -> Sopel -> IRC  {ms(hop)}")
        print(f"click -> delivered known (the answer waits for the server's confirmation) "
              f"{ms(http_rt)}")
        print("  answers: " + ", ".join(f"{n} {k}" for k, n in sorted(states.items()))
              + f"; confirmed by {'echo-message' if ircd.kind == 'inspircd' else 'PING fence'}")
        print(f"floor: raw client PRIVMSG -> observer   {ms(irc_hop)}")
        print(f"floor: GET /health round trip          {ms(health_rt)}")
        print(f"ntrbot CPU per announce: {cpu / count * 1e3:.2f} ms")
        d, c, h = summary(direct), summary(relayed), summary(http_rt)
        print(f"target direct p50 <= 2.5 ms: {verdict(d['median'] <= 0.0025)} "
              f"({d['median'] * 1e3:.3f} ms); p99 <= 5 ms: {verdict(d['p99'] <= 0.005)} "
              f"({d['p99'] * 1e3:.3f} ms)")
        print(f"target click -> delivered known p50 <= 5 ms: {verdict(h['median'] <= 0.005)} "
              f"({h['median'] * 1e3:.3f} ms)")
        if compat:
            ratio = c["median"] / d["median"]
            print(f"compat / direct (median): {ratio:.2f}x   p99: {c['p99'] / d['p99']:.2f}x   "
                  f"target >= 2x: {verdict(ratio >= 2)}")
        if spy is not None:
            print(spy.report())
    finally:
        if sopel is not None:
            await asyncio.to_thread(sopel.stop)
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.4,
                        help="seconds between announces (ngircd throttles a client sending "
                        "more than ~3 lines/s)")
    parser.add_argument("--ircd", choices=["ngircd", "miniircd", "inspircd"], default=None)
    parser.add_argument("--no-compat", action="store_true", help="direct path only")
    parser.add_argument("--profile", action="store_true", help="py-spy ntrbot meanwhile")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.warmup, args.gap, args.profile, not args.no_compat,
                     args.ircd))
