"""HTTP bench: GET /playlist throughput and latency at 50 concurrent keep-alive connections."""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import time

import httpx

from bench.common import (
    PySpy,
    Stack,
    cpu_seconds,
    header,
    ms,
    ntr_env,
    summary,
    verdict,
    wait_for,
    week_likes,
)
from tests.support.net import free_port

REQUEST = b"GET /playlist HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"


async def worker(port: int, stop_at: float, budget: list[int], latencies: list[float],
                 errors: list[str]) -> None:
    """One keep-alive connection: request, read the whole response, repeat."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            t0 = time.perf_counter()
            writer.write(REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            match = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
            if match is None:
                errors.append("no content-length")
                return
            await reader.readexactly(int(match.group(1)))
            latencies.append(time.perf_counter() - t0)
            if status != b"200":
                errors.append(status.decode())
    finally:
        writer.close()


async def python_load(port: int, connections: int, seconds: float,
                      max_requests: int) -> tuple[float, list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    budget = [max_requests]
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(port, t0 + seconds, budget, latencies, errors)
                           for _ in range(connections)))
    elapsed = time.perf_counter() - t0
    return elapsed, latencies, errors, len(latencies) / elapsed


def wrk_load(url: str, connections: int, seconds: float) -> str:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s",
                          "--latency", url], capture_output=True, text=True, timeout=seconds + 30,
                         check=False)
    return out.stdout


BARE_APP = """
import sys
from aiohttp import web
body = open(sys.argv[2], "rb").read()
async def playlist(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/playlist", playlist)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


async def bare_aiohttp(stack: Stack, body: bytes, connections: int, seconds: float,
                       max_requests: int) -> None:
    """The floor: a bare aiohttp app returning the same bytes, same load generator."""
    path = stack.workdir / "playlist.json"
    path.write_bytes(body)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port), str(path)])
    try:
        async def up() -> bool:
            try:
                async with httpx.AsyncClient(timeout=1) as http:
                    return (await http.get(f"http://127.0.0.1:{port}/playlist")).status_code == 200
            except httpx.HTTPError:
                return False
        await wait_for(up, 20, "the bare aiohttp app")
        await python_load(port, connections, 1.0, 2000)
        cpu0 = cpu_seconds(proc.pid)
        _, lat, _, rps = await python_load(port, connections, seconds, max_requests)
        per_req = (cpu_seconds(proc.pid) - cpu0) / max(1, len(lat))
        print(f"baseline: bare aiohttp returning the same {len(body)} bytes, pre-encoded: "
              f"{rps:.0f} req/s, {per_req * 1e6:.0f} us CPU per request, latency {ms(lat)}")
    finally:
        proc.terminate()
        proc.wait(10)


async def main(connections: int, seconds: float, max_requests: int, tracks: int,
               profile: bool, baseline: bool) -> None:
    header(f"http: GET /playlist, {connections} concurrent connections")
    stack = Stack.new("http")
    try:
        fake = await stack.start_fake(week_likes(tracks))
        bot = await stack.start_ntrbot(ntr_env(fake))
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=5) as http:
            async def polled() -> int:
                return len((await http.get("/playlist")).json()["tracks"])
            await wait_for(polled, 30, "the first poll")
            body = (await http.get("/playlist")).content
            size = len(body)
        print(f"playlist: {tracks} tracks, {size} bytes of JSON per response")
        # warm-up
        await python_load(bot.port, connections, 1.0, 2000)
        spy = None
        if profile:
            assert bot.proc is not None
            spy = PySpy(bot.proc.pid, seconds, stack.workdir / "playlist.raw")
        assert bot.proc is not None
        cpu0 = cpu_seconds(bot.proc.pid)
        elapsed, lat, errors, rps = await python_load(bot.port, connections, seconds,
                                                      max_requests)
        cpu = cpu_seconds(bot.proc.pid) - cpu0
        if spy is not None:
            print(spy.report())
        print(f"python load generator (asyncio streams, keep-alive, same machine): "
              f"{len(lat)} requests in {elapsed:.2f} s, {len(errors)} errors")
        print(f"throughput {rps:8.0f} req/s   target >= 5000 req/s: {verdict(rps >= 5000)}")
        print(f"latency    {ms(lat)}")
        per_req = cpu / max(1, len(lat))
        print(f"server CPU {per_req * 1e6:8.0f} us per request ({cpu:.2f} s CPU in "
              f"{elapsed:.2f} s wall) -> one core could serve ~{1 / per_req:.0f} req/s")
        s = summary(lat)
        print(f"(per-request latency at {connections} in flight: median "
              f"{s['median'] * 1e3:.2f} ms, p99 {s['p99'] * 1e3:.2f} ms)")
        if baseline:
            await bare_aiohttp(stack, body, connections, seconds, max_requests)
        if shutil.which("wrk"):
            print("wrk:")
            print(wrk_load(bot.base_url + "/playlist", connections, seconds))
        else:
            print("wrk: not installed (apt-get install wrk to cross-check)")
    finally:
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--tracks", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="py-spy the server meanwhile")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the bare-aiohttp comparison")
    args = parser.parse_args()
    asyncio.run(main(args.connections, args.seconds, args.max_requests, args.tracks,
                     args.profile, not args.no_baseline))
