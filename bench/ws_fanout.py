"""WebSocket fan-out (ntrbot/fanout.py): 1,000 /ws/announce subscribers (or /ws/public listeners),
time until the last one has the message."""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import json
import os
import resource
import socket
import time
from collections.abc import Callable

import aiohttp

from bench.common import (
    ADMIN_TOKEN,
    PySpy,
    Stack,
    header,
    ms,
    ntr_env,
    summary,
    verdict,
    wait_for,
    week_likes,
)

# What each socket's message looks like on the wire: the hub serializes compactly; /ws/public
# is timed on a retraction (it carries every announce only once an output confirmed it).
MARKS = {"announce": b'"type":"announce"', "public": b'"type": "retracted"'}


def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need)) if hard != resource.RLIM_INFINITY else max(soft, need)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def masked_text_frame(text: str) -> bytes:
    """One client->server text frame (clients must mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x81])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Subscriber(asyncio.Protocol):
    """A minimal WebSocket client: handshake, subscribe, then stamp each announce frame seen.

    Kept this small so that the bench process measures the server, not its own parsing. A
    stalled subscriber stops reading after subscribing (small receive buffer, so it fills).
    """

    joined = 0  # each subscriber poses as its own bot host (X-Forwarded-For from loopback,
    # a trusted proxy): ntrbot admits at most 20 unsubscribed sockets per client address

    path = "announce"  # or "public": no subscribe message, the hello comes first

    def __init__(self, host: str, port: int, stalled: bool) -> None:
        self.host, self.port, self.stalled = host, port, stalled
        self.mark = MARKS[Subscriber.path]
        Subscriber.joined += 1
        self.address = f"10.{Subscriber.joined >> 16 & 255}.{Subscriber.joined >> 8 & 255}." \
                       f"{Subscriber.joined & 255}"
        self.transport: asyncio.Transport | None = None
        self.upgraded = asyncio.get_running_loop().create_future()
        self.buf = b""
        self.tail = b""
        self.seen: list[float] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET /ws/{Subscriber.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"X-Forwarded-For: {self.address}\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.upgraded.done():
            self.buf += data
            if b"\r\n\r\n" not in self.buf:
                return
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 101"):
                self.upgraded.set_exception(RuntimeError(head[:80].decode("latin-1")))
                return
            assert self.transport is not None
            if Subscriber.path == "announce":
                self.transport.write(masked_text_frame(json.dumps(
                    {"type": "subscribe", "token": ADMIN_TOKEN})))
            self.upgraded.set_result(None)
            if self.stalled:
                self.transport.pause_reading()
            data = rest
        chunk, mark = self.tail + data, self.mark
        self.seen.extend([now] * chunk.count(mark))
        self.tail = chunk[-(len(mark) - 1):] if len(chunk) >= len(mark) else chunk
        # (a mark split across reads is counted once: the tail keeps less than one mark)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True


async def connect(host: str, port: int, stalled: bool) -> Subscriber:
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if stalled:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    _, proto = await loop.create_connection(lambda: Subscriber(host, port, stalled), sock=sock)
    await asyncio.wait_for(proto.upgraded, 30)
    return proto


def each_got_more(subs: list[Subscriber], counts: list[int]) -> Callable[[], bool]:
    """A `wait_for` check: every subscriber saw more than its count of messages, or closed."""
    return lambda: all(len(s.seen) > c or s.closed for s, c in zip(subs, counts, strict=True))


async def run_phase(http: aiohttp.ClientSession, show_id: int, subs: list[Subscriber],
                    repeats: int, warmup: int, gap: float) -> tuple[list[float], list[float], int]:
    """Announce (/ws/public: announce, then retract) `warmup + repeats` times; per repeat:
    time to the last and to the median sub."""
    healthy = [s for s in subs if not s.stalled]
    last: list[float] = []
    median: list[float] = []
    missing = 0
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for i in range(warmup + repeats):
        counts = [len(s.seen) for s in healthy]
        t0 = time.perf_counter()
        async with http.post("/admin/announce", headers=headers, json={
                "show_id": show_id, "position": i % 20 + 1, "force": True}) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        if Subscriber.path == "public":
            counts = [len(s.seen) for s in healthy]
            t0 = time.perf_counter()
            ann_id = body["announcement_id"]
            async with http.delete(f"/admin/announcements/{ann_id}", headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        try:
            await wait_for(each_got_more(healthy, counts), 10,
                           "every subscriber to get the announce", interval=0.001)
        except TimeoutError:
            pass
        got = [s.seen[c] - t0 for s, c in zip(healthy, counts, strict=True) if len(s.seen) > c]
        missing += len(healthy) - len(got)
        if i >= warmup and got:
            got.sort()
            last.append(got[-1])
            median.append(got[len(got) // 2])
        await asyncio.sleep(gap)
    return last, median, missing


async def main(count: int, stalled: int, repeats: int, warmup: int, gap: float,
               profile: bool, batch: int, pause: float, path: str) -> None:
    Subscriber.path = path
    header(f"ws fan-out: {count} /ws/{path} {'subscribers' if path == 'announce' else 'listeners'}"
           " (ntrbot/fanout.py)")
    limit = raise_fd_limit(2 * count + 200)
    print(f"fd limit raised to {limit} (ntrbot inherits it)")
    stack = Stack.new("fanout")
    try:
        fake = await stack.start_fake(week_likes(20))
        bot = await stack.start_ntrbot(ntr_env(fake))
        assert bot.proc is not None
        async with aiohttp.ClientSession(bot.base_url) as http:
            async def ready() -> bool:
                async with http.get("/playlist") as r:
                    return len((await r.json())["tracks"]) == 20
            await wait_for(ready, 30, "the first poll")
            async with http.get("/playlist") as r:
                show_id = (await r.json())["id"]

            async def subscribers() -> int:
                if path == "public":  # no count to ask for: the ones still open
                    return sum(not s.closed for s in subs)
                async with http.get("/health") as r:
                    return int((await r.json())["subscribers"])

            subs: list[Subscriber] = []
            t0 = time.perf_counter()
            # Join in bursts of `batch` (before dcfe92c a burst of joins made the hub drop
            # nearly everyone; tests/reliability/test_hub_join_storm.py guards that now).
            for start in range(0, count, batch):
                subs += await asyncio.gather(*(connect("127.0.0.1", bot.port, False)
                                               for _ in range(start, min(count, start + batch))))

                async def settled(group: list[Subscriber] = subs) -> bool:
                    return await subscribers() >= len(group) - sum(s.closed for s in group)
                await wait_for(settled, 30, "subscribers to settle")
                await asyncio.sleep(pause)
            n = await subscribers()
            print(f"{len(subs)} subscribers connected in {time.perf_counter() - t0:.2f} s "
                  f"(batches of {batch}); server counts {n}; {sum(s.closed for s in subs)} "
                  "closed by the server while joining")
            # The 1,000 client sockets live in this process: keep its own collector from
            # pausing it mid-measurement, so the figures are the server's.
            gc.collect()
            gc.freeze()
            gc.disable()
            spy = PySpy(bot.proc.pid, 3 + repeats * (gap + 0.05), stack.workdir / "fan.raw") \
                if profile else None
            last, med, missing = await run_phase(http, show_id, subs, repeats, warmup, gap)
            if spy is not None:
                print(spy.report())
            print(f"all {count} reading   time to the LAST subscriber   {ms(last)}")
            print(f"                     time to the median subscriber {ms(med)}")
            print(f"                     missed deliveries: {missing}")
            base = summary(last)
            # replace `stalled` healthy subscribers by stalled ones and go again
            for s in subs[:stalled]:
                if s.transport is not None:
                    s.transport.close()
            if path == "public":  # at most 1,000 listeners: let the server see them go
                await asyncio.sleep(0.5)
            stuck = await asyncio.gather(*(connect("127.0.0.1", bot.port, True)
                                           for _ in range(stalled)))
            subs = subs[stalled:] + list(stuck)
            await asyncio.sleep(0.5)
            last2, med2, missing2 = await run_phase(http, show_id, subs, repeats, warmup, gap)
            print(f"with {stalled} stalled  time to the LAST reading one  {ms(last2)}")
            print(f"                     time to the median subscriber {ms(med2)}")
            print(f"                     missed deliveries: {missing2}; stalled ones dropped "
                  f"by the server: {sum(s.closed for s in stuck)} of {stalled}; server counts "
                  f"{await subscribers()} subscribers")
            with_stalled = summary(last2)
            print(f"target p99 <= 50 ms for {count}: {verdict(base['p99'] <= 0.05)} "
                  f"({base['p99'] * 1e3:.1f} ms); with stalled ones: "
                  f"{verdict(with_stalled['p99'] <= 0.05)} ({with_stalled['p99'] * 1e3:.1f} ms)")
            for s in subs:
                if s.transport is not None:
                    s.transport.abort()
    finally:
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--stalled", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap", type=float, default=0.1, help="seconds between announces")
    parser.add_argument("--profile", action="store_true", help="py-spy ntrbot meanwhile")
    parser.add_argument("--batch", type=int, default=100, help="subscribers joining at once")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between batches")
    parser.add_argument("--path", choices=sorted(MARKS), default="announce",
                        help="the socket: /ws/announce (the hub) or /ws/public")
    args = parser.parse_args()
    asyncio.run(main(args.subscribers, args.stalled, args.repeats, args.warmup, args.gap,
                     args.profile, args.batch, args.pause, args.path))
