"""Shared bench helpers: statistics, machine facts, and the loopback parts (SC, IRC, ntrbot)."""

from __future__ import annotations

import asyncio
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.fake_soundcloud import FakeSoundCloud, make_like
from tests.support.ircd import NGIRCD, IrcServer
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess

ADMIN_TOKEN = "bench-admin-token-0123456789abcdef0123"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789"
WEB_USER, WEB_PASSWORD = "host", "bench-password"
CHANNEL = "#sewerchat"


# --- figures -------------------------------------------------------------------------------

def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 100 samples is the 99th smallest)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float]) -> dict[str, float]:
    """n, median, p99, mean, min, max of `samples`."""
    if not samples:
        return {"n": 0, "median": math.nan, "p99": math.nan, "mean": math.nan,
                "min": math.nan, "max": math.nan}
    return {"n": len(samples), "median": statistics.median(samples),
            "p99": percentile(samples, 99), "mean": statistics.fmean(samples),
            "min": min(samples), "max": max(samples)}


def ms(samples: Sequence[float]) -> str:
    """One line: median / p99 / mean / min / max in milliseconds (samples in seconds)."""
    s = summary(samples)
    return (f"n={s['n']:<5d} median {s['median'] * 1e3:8.3f} ms  p99 {s['p99'] * 1e3:8.3f} ms  "
            f"mean {s['mean'] * 1e3:8.3f} ms  min {s['min'] * 1e3:7.3f}  "
            f"max {s['max'] * 1e3:8.3f} ms")


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def machine() -> str:
    """nproc, memory, CPU model, Python and OS in a few lines."""
    free = ""
    if shutil.which("free"):
        free = subprocess.run(["free", "-h"], capture_output=True, text=True,
                              check=False).stdout.strip()
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "\n".join([
        f"nproc: {os.cpu_count()}   cpu: {cpu}",
        f"python: {sys.version.split()[0]} ({platform.python_implementation()})   "
        f"os: {platform.platform()}",
        f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        free,
    ])


def header(title: str) -> None:
    print(f"== {title} ==  ({datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')})")


# --- loopback parts ------------------------------------------------------------------------

def week_likes(count: int, *, start_id: int = 1000, now: datetime | None = None,
               days_back: float = 2.5) -> list[dict[str, Any]]:
    """`count` likes spread over the last `days_back` days (all inside the current week)."""
    now = now or datetime.now(UTC)
    step = timedelta(days=days_back) / max(count, 1)
    return [make_like(start_id + i, now - timedelta(days=days_back) + step * i,
                      title=f"Bench Track {i + 1}", artist=f"Artist {i % 17}")
            for i in range(count)]


def ntr_env(fake: FakeSoundCloud, **extra: str) -> dict[str, str]:
    """Settings for a real ntrbot against `fake`, with a show week that contains now."""
    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
           "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, "NTR_SHOW_TIMEZONE": "UTC",
           "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday()),
           "NTR_SHOW_HOUR": "0", "NTR_LOG_LEVEL": "WARNING"}
    env.update(extra)
    return env


def irc_env(server: IrcServer, nick: str = "ntrbot", **extra: str) -> dict[str, str]:
    env = {"NTR_IRC_SERVER": server.host, "NTR_IRC_PORT": str(server.port),
           "NTR_IRC_NICK": nick, "NTR_IRC_CHANNELS": CHANNEL, "NTR_ANNOUNCE_CHANNEL": CHANNEL,
           # isolated announces must never wait for the flood bucket
           "NTR_IRC_FLOOD_BURST": "1000", "NTR_IRC_FLOOD_RATE": "1000"}
    env.update(extra)
    return env


def dashboard_env() -> dict[str, str]:
    return {"NTR_WEB_USER": WEB_USER, "NTR_WEB_PASSWORD": WEB_PASSWORD,
            "NTR_SECRET_KEY": SECRET_KEY}


def irc_kind() -> str:
    """ngircd when installed (faster, closer to production), else miniircd."""
    return "ngircd" if NGIRCD else "miniircd"


@dataclass
class Stack:
    """What a bench started; `close()` stops all of it."""

    workdir: Path
    fake: FakeSoundCloud | None = None
    ircd: IrcServer | None = None
    bots: list[NtrbotProcess] = field(default_factory=list)
    closers: list[Callable[[], Any]] = field(default_factory=list)

    @classmethod
    def new(cls, prefix: str) -> Stack:
        return cls(Path(tempfile.mkdtemp(prefix=f"ntrbench-{prefix}-")))

    async def start_fake(self, likes: list[dict[str, Any]]) -> FakeSoundCloud:
        self.fake = await FakeSoundCloud(likes=likes).start()
        return self.fake

    def start_ircd(self, kind: str | None = None) -> IrcServer:
        self.ircd = IrcServer(kind or irc_kind())
        self.ircd.start()
        return self.ircd

    async def start_ntrbot(self, env: dict[str, str], timeout: float = 30.0) -> NtrbotProcess:
        bot = NtrbotProcess(self.workdir, env)
        self.bots.append(bot)
        await bot.start(timeout)
        return bot

    async def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                result = closer()
                if asyncio.iscoroutine(result):
                    await result
            except Exception as exc:
                print(f"(cleanup: {type(exc).__name__}: {exc})", file=sys.stderr)
        for bot in self.bots:
            if bot.proc is not None and bot.proc.poll() is None:
                try:
                    await bot.stop()
                except RuntimeError:
                    bot.kill()
        if self.ircd is not None:
            self.ircd.stop()
            shutil.rmtree(self.ircd.dir, ignore_errors=True)
        if self.fake is not None:
            await self.fake.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


async def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
                   interval: float = 0.02) -> Any:
    """Await until predicate() (sync or async) is truthy; raise naming `what`."""
    return await wait_until(predicate, timeout, what, interval=interval)


# --- a timestamping IRC observer -----------------------------------------------------------

class _ObserverProtocol(asyncio.Protocol):
    def __init__(self, owner: IrcObserver) -> None:
        self.owner = owner
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.owner.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buf += data
        *lines, self.buf = self.buf.split(b"\r\n")
        for raw in lines:
            self.owner.feed(raw.decode("utf-8", "replace"), now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.closed.set()


class IrcObserver:
    """Raw IRC client that stamps every received line with time.perf_counter() on arrival."""

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.transport: asyncio.Transport | None = None
        self.lines: list[tuple[float, str]] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()

    @classmethod
    async def connect(cls, host: str, port: int, nick: str, timeout: float = 20.0) -> IrcObserver:
        self = cls(nick)
        loop = asyncio.get_running_loop()
        await loop.create_connection(lambda: _ObserverProtocol(self), host, port)
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :bench observer")
        await self.wait(lambda t, ln: f" 001 {nick}" in ln, timeout)
        return self

    def send(self, line: str) -> None:
        assert self.transport is not None
        self.transport.write(line.encode() + b"\r\n")

    def feed(self, line: str, at: float) -> None:
        if line.startswith("PING"):
            self.send("PONG" + line[4:])
        self.lines.append((at, line))
        self._changed.set()

    async def wait(self, match: Callable[[float, str], bool], timeout: float,
                   since: int = 0) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        seen = since
        while True:
            for at, line in self.lines[seen:]:
                seen += 1
                if match(at, line):
                    return at, line
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching IRC line in {timeout} s; last: "
                                   f"{[ln for _, ln in self.lines[-5:]]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                pass

    async def join(self, channel: str, timeout: float = 20.0) -> None:
        since = len(self.lines)
        self.send(f"JOIN {channel}")
        await self.wait(lambda t, ln: f" 366 {self.nick} {channel}" in ln, timeout, since)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.write(b"QUIT :bench done\r\n")
            self.transport.close()


def privmsg_from(line: str, nick: str, channel: str = CHANNEL) -> str | None:
    """The text of `line` when it is a PRIVMSG from `nick` to `channel`, else None."""
    if not line.startswith(f":{nick}!"):
        return None
    head, sep, text = line.partition(" :")
    parts = head.split()
    if not sep or len(parts) < 3 or parts[1] != "PRIVMSG" or parts[2].lower() != channel.lower():
        return None
    return text


def says(nick: str, text: str, *, exact: bool = False) -> Callable[[float, str], bool]:
    """An `IrcObserver.wait` match: a PRIVMSG from `nick` containing (or equal to) `text`."""
    def match(_at: float, line: str) -> bool:
        said = privmsg_from(line, nick)
        return said == text if exact else text in (said or "")
    return match


# --- profiling (py-spy, when installed; not a test dependency) -----------------------------

class PySpy:
    """`py-spy record --format raw` on a pid for a while; `report()` sums the stacks."""

    def __init__(self, pid: int, seconds: float, out: Path, rate: int = 250) -> None:
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        exe = shutil.which("py-spy")
        if exe is None:
            print("(py-spy not installed: pip install py-spy to profile)")
            return
        self.proc = subprocess.Popen(
            [exe, "record", "-p", str(pid), "-d", str(max(1, int(seconds))), "-r", str(rate),
             "--format", "raw", "-o", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait(self) -> None:
        if self.proc is not None:
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def report(self, top: int = 15) -> str:
        """Top frames by self time and by inclusive time (percent of samples)."""
        self.wait()
        if self.proc is None or not self.out.exists():
            return "(no profile)"
        own: dict[str, int] = {}
        incl: dict[str, int] = {}
        total = 0
        for line in self.out.read_text().splitlines():
            stack, _, count_s = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_s)
            total += count
            frames = [f.strip() for f in stack.split(";") if f.strip()]
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                incl[frame] = incl.get(frame, 0) + count
        if not total:
            return "(no samples)"

        def fmt(d: dict[str, int]) -> str:
            rows = sorted(d.items(), key=lambda kv: -kv[1])[:top]
            return "\n".join(f"  {100 * n / total:5.1f}%  {name[:150]}" for name, n in rows)
        return (f"py-spy: {total} samples\n self time:\n{fmt(own)}\n inclusive (ntrbot and "
                "aiohttp frames):\n"
                + fmt({k: v for k, v in incl.items() if "ntrbot" in k or "aiohttp" in k}))


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
