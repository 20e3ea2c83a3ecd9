"""Dead link: a silently dropped IRC link (no FIN, no RST) noticed after an unconfirmed announce."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp

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
from tests.support.tcpproxy import TcpProxy


async def main(rounds: int, ircd_kind: str) -> None:
    header("dead link: blackholed IRC link -> noticed -> reconnected -> line re-sent")
    stack = Stack.new("deadlink")
    proxy: TcpProxy | None = None
    try:
        fake = await stack.start_fake(week_likes(30))
        ircd = stack.start_ircd(ircd_kind)
        proxy = started = await TcpProxy(ircd.host, ircd.port).start()
        obs = await IrcObserver.connect(ircd.host, ircd.port, "observer")
        await obs.join(CHANNEL)

        class Via:
            host, port = "127.0.0.1", started.port

        bot = await stack.start_ntrbot({**ntr_env(fake), **irc_env(Via)})  # type: ignore[arg-type]
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        noticed: list[float] = []
        recovered: list[float] = []
        outcomes: list[str] = []
        async with aiohttp.ClientSession(bot.base_url) as http:
            async def health() -> dict[str, Any]:
                async with http.get("/health") as r:
                    irc: dict[str, Any] = (await r.json())["irc"]
                    return irc

            async def joined() -> bool:
                return CHANNEL in (await health())["channels"]

            async def ready() -> bool:
                async with http.get("/playlist") as r:
                    return await joined() and len((await r.json())["tracks"]) == 30
            await wait_for(ready, 30, "ntrbot in the channel with the playlist")
            async with http.get("/playlist") as r:
                show_id = (await r.json())["id"]
            for i in range(rounds):
                proxy.blackhole()
                since = len(obs.lines)
                t0 = time.perf_counter()
                async with http.post("/admin/announce", headers=headers, json={
                        "show_id": show_id, "position": i % 30 + 1, "force": True}) as r:
                    body = await r.json()
                assert body["delivery"] == "sent", body  # written, never confirmed

                async def down() -> bool:
                    return not (await health())["connected"]
                await wait_for(down, 30, "the dead link to be noticed")
                noticed.append(time.perf_counter() - t0)
                # the network comes back; the reconnect made into the hole is cut off
                proxy.restore()
                proxy.reset()
                tag = f"Song #{i % 30 + 1}: Bench Track"
                await obs.wait(says("ntrbot", tag), 60, since)
                ann_id = body["id"]

                async def final(ann_id: int = ann_id) -> str | None:
                    async with http.get(f"/shows/{show_id}/announcements",
                                        headers=headers) as r:
                        items = (await r.json())["announcements"]
                    state = next(a["delivery"] for a in items if a["id"] == ann_id)
                    return state if state in ("delivered", "failed", "expired") else None
                outcomes.append(await wait_for(final, 30, "the re-sent line's outcome"))
                recovered.append(time.perf_counter() - t0)
                await wait_for(joined, 30, "ntrbot back in the channel")
        obs.close()
        print(f"IRC server: {ircd.kind} behind a loopback TCP proxy that blackholes the link; "
              f"{rounds} rounds")
        print(f"unconfirmed announce -> /health says connected: false   {ms(noticed)}")
        print(f"unconfirmed announce -> re-sent line confirmed           {ms(recovered)}")
        print("outcomes: " + ", ".join(f"{outcomes.count(o)} {o}" for o in sorted(set(outcomes))))
        n = summary(noticed)
        print(f"target dead link noticed <= 10 s: {verdict(n['max'] <= 10.0)} "
              f"(max {n['max']:.2f} s)")
    finally:
        if proxy is not None:
            await proxy.close()
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ircd", choices=["ngircd", "miniircd", "inspircd"], default="ngircd")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.ircd))
