"""Outputs: click -> IRC line with only IRC, and with a 3 s webhook and a dead one beside it."""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
from aiohttp import web

from bench.common import (
    ADMIN_TOKEN,
    CHANNEL,
    IrcObserver,
    Stack,
    header,
    irc_env,
    ms,
    ntr_env,
    says,
    summary,
    verdict,
    wait_for,
    week_likes,
)
from tests.support.net import free_port

SECRET = "bench-webhook-secret-0123456789"


async def slow_receiver(seconds: float) -> tuple[web.AppRunner, int]:
    async def slow(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(seconds)
        return web.Response(status=204)
    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def run(stack: Stack, fake: object, ircd: object, obs: IrcObserver, extra: dict[str, str],
              count: int, gap: float) -> tuple[list[float], list[float]]:
    bot = await stack.start_ntrbot({**ntr_env(fake), **irc_env(ircd), **extra})  # type: ignore[arg-type]
    line: list[float] = []
    answer: list[float] = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(bot.base_url) as http:
        async def ready() -> bool:
            async with http.get("/health") as r:
                joined = CHANNEL in (await r.json())["irc"]["channels"]
            async with http.get("/playlist") as r:
                return joined and len((await r.json())["tracks"]) == 30
        await wait_for(ready, 30, "ntrbot in the channel with the playlist")
        async with http.get("/playlist") as r:
            show_id = (await r.json())["id"]
        for i in range(count + 10):
            position = i % 30 + 1
            tag = f"Song #{position}: Bench Track {position} by"
            since = len(obs.lines)
            t0 = time.perf_counter()
            async with http.post("/admin/announce", headers=headers, json={
                    "show_id": show_id, "position": position, "force": True}) as r:
                body = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"announce failed: {r.status} {body}")
            t_answer = time.perf_counter()
            at, _ = await obs.wait(says("ntrbot", tag), 10, since)
            if i >= 10:
                line.append(at - t0)
                answer.append(t_answer - t0)
            await asyncio.sleep(gap)
    await bot.stop()
    return line, answer


async def main(count: int, gap: float, ircd_kind: str) -> None:
    header("outputs: click -> IRC line, IRC alone vs IRC + a 3 s webhook + a dead webhook")
    stack = Stack.new("outputs")
    runner, port = await slow_receiver(3.0)
    try:
        fake = await stack.start_fake(week_likes(30))
        ircd = stack.start_ircd(ircd_kind)
        obs = await IrcObserver.connect(ircd.host, ircd.port, "observer")
        await obs.join(CHANNEL)
        alone = await run(stack, fake, ircd, obs, {}, count, gap)
        hooks = {"NTR_WEBHOOK_URLS": f"http://127.0.0.1:{port}/slow,"
                                     f"http://127.0.0.1:{free_port()}/down",
                 "NTR_WEBHOOK_SECRET": SECRET}
        beside = await run(stack, fake, ircd, obs, hooks, count, gap)
        obs.close()
        print(f"IRC server: {ircd.kind}; {count} announces each (+10 warm-up), "
              f"{gap * 1e3:.0f} ms apart; same run, same server")
        print(f"IRC only          click -> line    {ms(alone[0])}")
        print(f"+ slow, dead hook click -> line    {ms(beside[0])}")
        print(f"IRC only          click -> answer  {ms(alone[1])}")
        print(f"+ slow, dead hook click -> answer  {ms(beside[1])}")
        a, b = summary(alone[0]), summary(beside[0])
        print(f"ratio with webhooks / without: p50 {b['median'] / a['median']:.2f}x, "
              f"p99 {b['p99'] / a['p99']:.2f}x; target unchanged (p99 <= 5 ms): "
              f"{verdict(b['p99'] <= 0.005)}")
    finally:
        await runner.cleanup()
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.4)
    parser.add_argument("--ircd", choices=["ngircd", "miniircd", "inspircd"], default="ngircd")
    args = parser.parse_args()
    asyncio.run(main(args.count, args.gap, args.ircd))
