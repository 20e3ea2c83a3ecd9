"""Login burst: 300 slow-body logins at once against a hashed password; /health meanwhile."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time

from bench.common import (
    WEB_PASSWORD,
    WEB_USER,
    Stack,
    dashboard_env,
    header,
    ms,
    ntr_env,
    summary,
    verdict,
    week_likes,
)
from ntrbot.http.auth import hash_password

PER_CLIENT_LIMIT = 5  # ntrbot's logins per client address a minute (keys.THROTTLE)
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length)


async def slow_login(port: int, password: str, heads_sent: list[int],
                     go: asyncio.Event) -> int:
    """Send the request head now, the body when `go` is set; the answer's status."""
    body = f"username={WEB_USER}&password={password}".encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"POST /login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (port, len(body)))
        await writer.drain()
        heads_sent[0] += 1
        answer = asyncio.ensure_future(read_response(reader))
        waiting = asyncio.ensure_future(go.wait())
        await asyncio.wait([answer, waiting], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        if not answer.done():  # not refused before its body: send the body with the others
            writer.write(body)
            await writer.drain()
        status, _ = await asyncio.wait_for(answer, 120)
        return status
    except (ConnectionError, asyncio.IncompleteReadError):
        return 0
    finally:
        writer.close()


async def health_probe(port: int, stop: asyncio.Event, latencies: list[float]) -> None:
    """GET /health on one keep-alive connection, back to back, until `stop`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            writer.write(HEALTH)
            status, _ = await read_response(reader)
            latencies.append(time.perf_counter() - t0)
            if status != 200:
                raise RuntimeError(f"/health answered {status}")
            await asyncio.sleep(0.005)
    finally:
        writer.close()


async def run(count: int, right_at: int) -> bool:
    raise_fd_limit(count + 200)
    header(f"login burst: {count} slow-body logins, one right password (#{right_at + 1}), "
           "hashed password")
    stack = Stack.new("login")
    try:
        fake = await stack.start_fake(week_likes(5))
        env = {**ntr_env(fake), **dashboard_env(),
               "NTR_WEB_PASSWORD": hash_password(WEB_PASSWORD)}
        bot = await stack.start_ntrbot(env)
        idle: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.create_task(health_probe(bot.port, stop, idle))
        await asyncio.sleep(1.0)
        stop.set()
        await probe

        go, heads_sent = asyncio.Event(), [0]
        during: list[float] = []
        stop = asyncio.Event()
        probe = asyncio.create_task(health_probe(bot.port, stop, during))
        t0 = time.perf_counter()
        logins = [asyncio.create_task(slow_login(
            bot.port, WEB_PASSWORD if i == right_at else f"wrong-{i}", heads_sent, go))
            for i in range(count)]
        while heads_sent[0] < count and not all(t.done() for t in logins):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)  # every head is at the server before any body
        go.set()
        statuses = await asyncio.gather(*logins)
        elapsed = time.perf_counter() - t0
        stop.set()
        await probe
    finally:
        await stack.close()

    judged = sum(s in (200, 303) for s in statuses)
    refused = statuses.count(429)
    other = len(statuses) - judged - refused
    right_in = statuses[right_at] == 303
    p99 = summary(during)["p99"]
    print(f"attempts judged (password checked): {judged} of {count}   refused 429: {refused}"
          f"   other: {other}   burst took {elapsed:.2f} s")
    print(f"right password (#{right_at + 1}) let in past the limit: "
          f"{'YES' if right_in and right_at >= PER_CLIENT_LIMIT else 'no'} "
          f"(its answer: {statuses[right_at]})")
    print(f"/health idle:         {ms(idle)}")
    print(f"/health during burst: {ms(during)}")
    ok_judged = judged <= PER_CLIENT_LIMIT
    ok_right = not (right_in and right_at >= PER_CLIENT_LIMIT)
    ok_health = p99 <= 0.050
    print(f"judged <= {PER_CLIENT_LIMIT}: {verdict(ok_judged)}   right password kept out: "
          f"{verdict(ok_right)}   /health p99 <= 50 ms: {verdict(ok_health)}")
    return ok_judged and ok_right and other == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--right-at", type=int, default=None,
                        help="0-based index of the right password (default: the middle)")
    args = parser.parse_args()
    right_at = args.count // 2 if args.right_at is None else args.right_at
    return 0 if asyncio.run(run(args.count, right_at)) else 1


if __name__ == "__main__":
    sys.exit(main())
