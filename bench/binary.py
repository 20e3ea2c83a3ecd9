"""One-file binary bench: its size, cold and warm exec -> /health 200, show-state RSS vs pip."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench import runtime_venv
from bench.common import CHANNEL, IrcObserver, Stack, header, week_likes
from bench.process import ANNOUNCES, Starts, one_start
from scripts import build_binary
from tests.support.binary import bare_env
from tests.support.constants import ADMIN_TOKEN
from tests.support.ircd import IrcServer
from tests.support.net import free_port

SIZE_GOAL_MB = 40.0
COLD_GOAL_S = 2.0
RSS_MARGIN = 0.10


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def unpacked_mb(tmpdir: Path) -> float:
    """What the running binary unpacked into `tmpdir` (its _MEI directory), in MB."""
    return sum(f.stat().st_size for f in tmpdir.rglob("*") if f.is_file()) / 1e6


async def time_to_health(exe: Path, workdir: Path, tmpdir: Path,
                         unpacked: list[float] | None = None) -> float:
    """Seconds from exec of `exe run` (bare environment, SoundCloud and IRC off) to the first
    GET /health 200, polled every 2 ms; the process is stopped afterwards. `unpacked` gets
    the size of what it unpacked into `tmpdir`."""
    port = free_port()
    env = bare_env(workdir, TMPDIR=str(tmpdir), NTR_ADMIN_TOKEN=ADMIN_TOKEN,
                   NTR_HOST="127.0.0.1", NTR_PORT=str(port),
                   NTR_DB_PATH=str(workdir / "ntrbot.db"), NTR_LOG_LEVEL="WARNING",
                   NTR_SOUNDCLOUD_API_BASE=f"http://127.0.0.1:{free_port()}",
                   NTR_SOUNDCLOUD_WEB_BASE=f"http://127.0.0.1:{free_port()}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe)], cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the binary did not answer /health (exit {proc.poll()})")
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        took = time.perf_counter() - t0
                        if unpacked is not None:
                            unpacked.append(unpacked_mb(tmpdir))
                        return took
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.002)
    finally:
        proc.terminate()
        proc.wait(15)


async def starts(exe: Path, root: Path, runs: int) -> tuple[list[float], list[float]]:
    """Cold: each run execs a fresh copy of the file in a new directory, unpacking into an
    empty TMPDIR (the page cache is not dropped: the machine is shared). Warm: the same
    file again and again, after one start to warm it."""
    cold, warm = [], []
    for run in range(runs):
        where = root / f"cold-{run}"
        (where / "tmp").mkdir(parents=True)
        copy = where / "ntrbot"
        shutil.copy2(exe, copy)
        cold.append(await time_to_health(copy, where, where / "tmp"))
    where = root / "warm"
    (where / "tmp").mkdir(parents=True)
    unpacked: list[float] = []
    await time_to_health(exe, where, where / "tmp", unpacked)
    print(f"unpacked at each start into TMPDIR (else /tmp): {unpacked[0]:.1f} MB, "
          "removed at exit")
    for _ in range(runs):
        warm.append(await time_to_health(exe, where, where / "tmp"))
    return cold, warm


async def rss_beside_pip(exe: Path, python: Path, runs: int, idle: float) -> None:
    """The show state of bench.process (login, dashboard socket, announces to miniircd) for
    the binary and for a `pip install`-like venv, same fake SoundCloud, same server."""
    stack = Stack.new("binary")
    try:
        await stack.start_fake(week_likes(30))
        ircd = IrcServer("miniircd")
        ircd.start()
        stack.closers.append(lambda: shutil.rmtree(ircd.dir, ignore_errors=True))
        stack.closers.append(ircd.stop)
        obs = await IrcObserver.connect(ircd.host, ircd.port, "observer")
        await obs.join(CHANNEL)
        figures = {"binary": Starts("binary"), "pip venv": Starts("pip venv")}
        commands = {"binary": [str(exe)], "pip venv": [str(python), "-m", "ntrbot"]}
        for run in range(runs):
            for name, command in commands.items():
                print(f"{name}:", end=" ")
                await one_start(stack, ircd, obs, run, idle, command, figures[name])
        obs.close()
        idle_rss = {n: statistics.median(f.idle) for n, f in figures.items()}
        used = {n: statistics.median(f.in_use) for n, f in figures.items()}
        for name in figures:
            print(f"[{name}] RSS idle median {idle_rss[name]:5.1f} MB, after login + "
                  f"{ANNOUNCES} announces median {used[name]:5.1f} MB (process and children)")
        ratio = used["binary"] / used["pip venv"]
        print(f"binary / pip venv RSS in the show state: {ratio:.3f}  goal <= "
              f"{1 + RSS_MARGIN:.2f}: {verdict(ratio <= 1 + RSS_MARGIN)}")
    finally:
        await stack.close()


async def main(exe: Path, runs: int, idle: float, python: Path) -> None:
    header("binary: the one-file executable")
    size = exe.stat().st_size / 1e6
    print(f"size of {exe.name}: {size:.1f} MB  goal <= {SIZE_GOAL_MB:.0f} MB: "
          f"{verdict(size <= SIZE_GOAL_MB)}")
    with tempfile.TemporaryDirectory(prefix="ntrbench-binary-") as tmp:
        cold, warm = await starts(exe, Path(tmp), runs)
    print(f"cold exec -> /health 200  median {statistics.median(cold) * 1e3:7.1f} ms  max "
          f"{max(cold) * 1e3:7.1f} ms  goal <= {COLD_GOAL_S * 1e3:.0f} ms: "
          f"{verdict(statistics.median(cold) <= COLD_GOAL_S)}")
    print(f"warm exec -> /health 200  median {statistics.median(warm) * 1e3:7.1f} ms  max "
          f"{max(warm) * 1e3:7.1f} ms")
    await rss_beside_pip(exe, python, runs, idle)
    print(f"{runs} runs each")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS")
    parser.add_argument("--exe", type=Path, help="a built binary (default: build one now)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ntrbench-build-") as build:
        exe = args.exe or build_binary.build(Path(build) / "dist", Path(build) / "work")
        venv_python = runtime_venv.build(Path(build) / "venv")
        asyncio.run(main(exe.resolve(), args.runs, args.idle, venv_python))
