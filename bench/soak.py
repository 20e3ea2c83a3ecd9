"""Soak: one real ntrbot through N compressed show nights; per-night resources and the goals."""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.common import (
    ADMIN_TOKEN,
    CHANNEL,
    WEB_PASSWORD,
    WEB_USER,
    IrcObserver,
    Stack,
    dashboard_env,
    header,
    irc_env,
    machine,
    ntr_env,
    week_likes,
)
from bench.soak_figures import MB, Counts, Night, Soak, lag_p99, parse_metrics
from ntrbot.deliveries import FINAL
from tests.support.tcpproxy import TcpProxy
from tests.support.webhook_standin import HOOK_PATH, SECRET, StandIn

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TRACKS = 30
HOLD = {"ngircd": 1.0, "inspircd": 1.0, "miniircd": 0.0}  # the server's own hold on a client


class Listener:
    """The channel's listener: one raw client per server life, counting ntrbot's lines."""

    def __init__(self) -> None:
        self.counted = 0
        self.obs: IrcObserver | None = None

    async def join(self, host: str, port: int) -> None:
        self.counted += self.lines()
        self.obs = await IrcObserver.connect(host, port, "listener", timeout=30)
        await self.obs.join(CHANNEL, 30)

    def lines(self) -> int:
        if self.obs is None:
            return 0
        return sum(1 for _, ln in self.obs.lines if ln.startswith(":ntrbot")
                   and f" PRIVMSG {CHANNEL} :Now Playing" in ln)

    @property
    def total(self) -> int:
        return self.counted + self.lines()


class Run:
    """The parts of one soak and what a night does with them."""

    def __init__(self, counts: Counts, ircd_kind: str, verbose: bool) -> None:
        self.counts, self.ircd_kind, self.verbose = counts, ircd_kind, verbose
        self.stack = Stack.new("soak")
        self.listener = Listener()
        self.standin = StandIn()
        self.proxy: TcpProxy | None = None
        self.hook_server: TestServer | None = None
        self.base = ""
        self.show_id = 0
        self.ids: list[int] = []
        self.position = 0

    def say(self, text: str) -> None:
        if self.verbose:
            print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)

    async def start(self) -> None:
        fake = await self.stack.start_fake(week_likes(TRACKS))
        ircd = self.stack.start_ircd(self.ircd_kind)
        self.proxy = await TcpProxy(ircd.host, ircd.port).start()
        app = web.Application()
        app.router.add_post(HOOK_PATH, self.standin.hook)
        self.hook_server = self.standin.server = TestServer(app, host="127.0.0.1")
        await self.hook_server.start_server()
        self.stack.closers.append(self.hook_server.close)
        await self.listener.join(ircd.host, ircd.port)

        assert self.proxy is not None
        proxy_port = self.proxy.port

        class Via:
            host, port = "127.0.0.1", proxy_port

        env = {**ntr_env(fake), **irc_env(Via), **dashboard_env(),  # type: ignore[arg-type]
               "NTR_COOKIE_SECURE": "false", "NTR_WEBHOOK_URLS": self.standin.url(HOOK_PATH),
               "NTR_WEBHOOK_SECRET": SECRET}
        bot = await self.stack.start_ntrbot(env)
        self.base = bot.base_url
        async with aiohttp.ClientSession(self.base) as http:
            await self.until_joined(http, 60)
            for _ in range(300):
                async with http.get("/playlist") as r:
                    body = await r.json()
                if len(body.get("tracks", [])) == TRACKS:
                    self.show_id = body["id"]
                    return
                await asyncio.sleep(0.1)
        raise RuntimeError("the playlist never filled")

    async def close(self) -> None:
        if self.listener.obs is not None:
            self.listener.obs.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.stack.close()

    async def until_joined(self, http: aiohttp.ClientSession, timeout: float) -> float:
        """Seconds until /health says ntrbot sits in the channel (inf past `timeout`)."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            try:
                async with http.get("/health") as r:
                    irc = (await r.json())["irc"]
                if irc["connected"] and CHANNEL in irc["channels"]:
                    return time.perf_counter() - start
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        return math.inf

    async def scrape(self) -> dict[str, float]:
        async with aiohttp.ClientSession(self.base, connector=aiohttp.TCPConnector(
                force_close=True)) as http, http.get("/metrics", headers=BEARER) as r:
            return parse_metrics(await r.text())

    # --- one night ---------------------------------------------------------------------

    async def announce(self, http: aiohttp.ClientSession, **extra: Any) -> dict[str, Any]:
        self.position = self.position % TRACKS + 1
        async with http.post("/admin/announce", headers=BEARER, json={
                "show_id": self.show_id, "position": self.position, "force": True,
                "delay": 0, **extra}) as r:
            body: dict[str, Any] = await r.json()
        assert r.status == 200, body
        self.ids.append(body["id"])
        return body

    async def restart_ircd(self, http: aiohttp.ClientSession, queued: int) -> float:
        """Kill the server (ntrbot's way to it closed too), announce into the outage,
        bring both back (the listener first) and time ntrbot's rejoin."""
        assert self.proxy is not None and self.stack.ircd is not None
        ircd = self.stack.ircd
        await asyncio.to_thread(ircd.stop)
        await self.proxy.close()
        for _ in range(queued):
            await self.announce(http)
        await asyncio.to_thread(ircd.start)
        await self.listener.join(ircd.host, ircd.port)
        self.proxy = await TcpProxy(ircd.host, ircd.port, port=self.proxy.port).start()
        return await self.until_joined(http, 60)

    async def link_drop(self, http: aiohttp.ClientSession) -> None:
        """A blackholed link (no FIN, no RST) with an unconfirmed announce in it."""
        assert self.proxy is not None
        self.proxy.blackhole()
        await self.announce(http)
        start = time.perf_counter()
        while time.perf_counter() - start < 30:
            async with http.get("/health") as r:
                if not (await r.json())["irc"]["connected"]:
                    break
            await asyncio.sleep(0.05)
        self.proxy.restore()
        self.proxy.reset()
        await self.until_joined(http, 60)

    async def public_sockets(self, count: int) -> None:
        gate = asyncio.Semaphore(10)  # the feed allows 20 sockets per address

        async def one(session: aiohttp.ClientSession) -> None:
            async with gate, session.ws_connect("/ws/public") as ws:
                await ws.receive_json(timeout=10)
        async with aiohttp.ClientSession(self.base) as session:
            await asyncio.gather(*(one(session) for _ in range(count)))

    async def reads(self, http: aiohttp.ClientSession, count: int) -> None:
        paths = ["/playlist", "/health", "/shows", "/nowplaying", f"/shows/{self.show_id}",
                 f"/shows/{self.show_id}/announcements", "/playlist/3"]
        gate = asyncio.Semaphore(10)

        async def one(path: str) -> None:
            async with gate, http.get(path) as r:
                await r.read()
        await asyncio.gather(*(one(paths[i % len(paths)]) for i in range(count)))

    async def dashboard(self) -> None:
        async with aiohttp.ClientSession(self.base, cookie_jar=aiohttp.CookieJar(
                unsafe=True)) as session:
            async with session.post("/login", data={"username": WEB_USER,
                                                    "password": WEB_PASSWORD}) as r:
                assert r.status == 200 and r.url.path == "/dashboard", r.status
            async with session.ws_connect("/ws/dashboard") as ws:
                await ws.receive_json(timeout=10)
            async with session.post("/logout") as r:
                await r.read()

    async def settle(self, http: aiohttp.ClientSession, timeout: float = 90.0) -> int:
        """Until every announcement made is final (webhook retries too); how many are not."""
        start = time.perf_counter()
        while True:
            async with http.get(f"/shows/{self.show_id}/announcements",
                                headers=BEARER) as r:
                items = (await r.json())["announcements"]
            mine = [a for a in items if a["id"] in set(self.ids)]
            open_ = [a for a in mine if any(d["state"] not in FINAL for d in a["deliveries"])]
            if not open_ or time.perf_counter() - start > timeout:
                return len(open_) + len(set(self.ids)) - len(mine)
            await asyncio.sleep(0.2)

    async def delivered(self, http: aiohttp.ClientSession) -> int:
        async with http.get(f"/shows/{self.show_id}/announcements", headers=BEARER) as r:
            items = (await r.json())["announcements"]
        return sum(1 for a in items for d in a["deliveries"]
                   if d["output"] == f"irc:{CHANNEL}" and d["state"] == "delivered")

    async def night(self, number: int) -> Night:
        c = self.counts
        night = Night()
        before = await self.scrape()
        if number % 2:
            self.standin.script = ["503", "503"]  # the webhook is down for a while
        async with aiohttp.ClientSession(self.base) as http:
            made = len(self.ids)
            night.rejoin = await self.restart_ircd(http, c.queued_in_outage)
            self.say(f"night {number}: rejoined in {night.rejoin:.2f} s")
            plain = c.announces - c.queued_in_outage - c.delayed - c.cancelled - c.drops
            for i in range(max(plain, 0) + c.delayed):
                await self.announce(http, delay=1.5 if i >= plain else 0)
                await asyncio.sleep(0.4)  # ngircd penalises a client's burst of lines
            for _ in range(c.cancelled):
                body = await self.announce(http, delay=5)
                async with http.delete(f"/admin/announcements/{body['id']}",
                                       headers=BEARER) as r:
                    assert r.status == 200, await r.text()
            await self.public_sockets(c.public)
            await self.reads(http, c.reads)
            async with http.post("/admin/refresh", headers=BEARER) as r:
                await r.read()
            for _ in range(c.dashboards):
                await self.dashboard()
            for _ in range(c.drops):
                await self.link_drop(http)
            self.say(f"night {number}: settling")
            night.not_final = await self.settle(http)
            night.announced = len(self.ids) - made
            await asyncio.sleep(1.0)  # the last lines reach the listener
            night.delivered = await self.delivered(http)
        night.lines = self.listener.total
        await asyncio.sleep(0.5)  # closed sockets and their tasks end
        after = await self.scrape()
        night.rss = after["ntrbot_process_resident_memory_bytes"] / MB
        night.fds = int(after["ntrbot_process_open_fds"])
        night.threads = int(after["ntrbot_process_threads"])
        night.tasks = int(after["ntrbot_asyncio_tasks"])
        night.lag_p99 = lag_p99(before, after)
        db = self.stack.workdir / "ntrbot.db"
        night.db_bytes = db.stat().st_size
        wal = db.with_name("ntrbot.db-wal")
        night.wal_bytes = wal.stat().st_size if wal.exists() else 0
        return night


async def soak(nights: int, counts: Counts, ircd_kind: str, *,
               verbose: bool = False, show: bool = True) -> Soak:
    """Run the soak; print each night's row when `show`; return the figures."""
    run = Run(counts, ircd_kind, verbose)
    result = Soak()
    try:
        await run.start()
        if show:
            print(f"{'night':>5} {'RSS MB':>7} {'fds':>4} {'thr':>4} {'tasks':>5} "
                  f"{'DB KB':>7} {'WAL KB':>7} {'lag p99':>8} {'rejoin s':>8} "
                  f"{'lines':>6} {'delivered':>9} {'not final':>9}")
        for number in range(1, nights + 1):
            night = await run.night(number)
            result.nights.append(night)
            if show:
                print(f"{number:>5} {night.rss:7.1f} {night.fds:4d} {night.threads:4d} "
                      f"{night.tasks:5d} {night.db_bytes / 1024:7.0f} "
                      f"{night.wal_bytes / 1024:7.0f} {night.lag_p99 * 1e3:6.1f}ms "
                      f"{night.rejoin:8.2f} {night.lines:6d} {night.delivered:9d} "
                      f"{night.not_final:9d}", flush=True)
    finally:
        await run.close()
    return result


async def main(nights: int, counts: Counts, ircd_kind: str, verbose: bool) -> int:
    header(f"soak: {nights} compressed show nights, one ntrbot process, {ircd_kind}")
    print(machine())
    print(f"per night: IRC server restart ({counts.queued_in_outage} announces made during "
          f"it), {counts.announces} announces in all ({counts.delayed} delayed, "
          f"{counts.cancelled} cancelled, {counts.drops} through a blackholed link), "
          f"{counts.public} /ws/public connects, {counts.reads} API reads, a poll, "
          f"{counts.dashboards} dashboard sessions; the webhook answers 503 twice on odd "
          "nights")
    started = time.perf_counter()
    result = await soak(nights, counts, ircd_kind, verbose=verbose)
    print(f"ran {time.perf_counter() - started:.0f} s")
    failed = 0
    for goal, met, figures in result.goals(HOLD.get(ircd_kind, 0.0)):
        print(f"{'PASS' if met else 'FAIL'}  {goal}: {figures}")
        failed += not met
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nights", type=int, default=8)
    parser.add_argument("--announces", type=int, default=12)
    parser.add_argument("--public", type=int, default=150)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--dashboards", type=int, default=2)
    parser.add_argument("--ircd", choices=["ngircd", "miniircd", "inspircd"], default="ngircd")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    counts = Counts(announces=args.announces, public=args.public, reads=args.reads,
                    dashboards=args.dashboards)
    raise SystemExit(asyncio.run(main(args.nights, counts, args.ircd, args.verbose)))
