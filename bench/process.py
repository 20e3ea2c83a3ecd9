"""Process bench: time from exec to /health 200 and to channel joined; idle RSS afterwards."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import (
    CHANNEL,
    IrcObserver,
    Stack,
    dashboard_env,
    header,
    irc_env,
    ntr_env,
    verdict,
    wait_for,
    week_likes,
)
from tests.support.process import NtrbotProcess


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM from /proc/PID/status and Pss / Private from smaps_rollup, in kB."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            out[key] = int(value.split()[0])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in {"Pss", "Private_Clean", "Private_Dirty"}:
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


async def one_start(stack: Stack, obs: IrcObserver, run: int,
                    idle: float) -> tuple[float, float, dict[str, int]]:
    assert stack.fake is not None and stack.ircd is not None
    env = {**ntr_env(stack.fake), **irc_env(stack.ircd, nick=f"ntrb{run}"), **dashboard_env()}
    bot = NtrbotProcess(stack.workdir / f"run{run}", env)
    bot.workdir.mkdir()
    since = len(obs.lines)
    nick = f"ntrb{run}"
    with open(bot.log_path, "ab") as out:
        t0 = time.perf_counter()
        bot.proc = subprocess.Popen([sys.executable, "-m", "ntrbot"], cwd=bot.workdir,
                                    env=bot.env, stdout=out, stderr=subprocess.STDOUT)
    stack.bots.append(bot)
    t_health = 0.0
    async with httpx.AsyncClient(timeout=2.0) as http:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if bot.proc.poll() is not None:
                raise RuntimeError(f"ntrbot exited:\n{bot.log()}")
            try:
                if (await http.get(bot.base_url + "/health")).status_code == 200:
                    t_health = time.perf_counter() - t0
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.002)
        at, _ = await obs.wait(lambda t, ln: ln.startswith(f":{nick}!") and " JOIN " in ln,
                               30, since)
        t_join = at - t0
        # dashboard mounted and answering, playlist polled in
        assert (await http.get(bot.base_url + "/login")).status_code == 200

        async def polled() -> bool:
            return bool((await http.get(bot.base_url + "/playlist")).json()["tracks"])
        await wait_for(polled, 30, "first poll")
    await asyncio.sleep(idle)
    mem = rss_kb(bot.proc.pid)
    await bot.stop()
    return t_health, t_join, mem


async def main(runs: int, idle: float, ircd_kind: str | None) -> None:
    header("process: start-up time and idle memory")
    stack = Stack.new("process")
    try:
        await stack.start_fake(week_likes(30))
        ircd = stack.start_ircd(ircd_kind)
        obs = await IrcObserver.connect(ircd.host, ircd.port, "observer")
        await obs.join(CHANNEL)
        healths, joins, rss = [], [], []
        mems = []
        for run in range(runs):
            h, j, mem = await one_start(stack, obs, run, idle)
            healths.append(h)
            joins.append(j)
            rss.append(mem["VmRSS"] / 1024)
            mems.append(mem)
            print(f"run {run + 1}: /health 200 after {h * 1e3:7.1f} ms, {CHANNEL} joined after "
                  f"{j * 1e3:7.1f} ms, idle VmRSS {mem['VmRSS'] / 1024:5.1f} MB "
                  f"(Pss {mem.get('Pss', 0) / 1024:5.1f} MB, private "
                  f"{(mem.get('Private_Clean', 0) + mem.get('Private_Dirty', 0)) / 1024:5.1f} MB,"
                  f" peak {mem['VmHWM'] / 1024:5.1f} MB)")
        obs.close()
        h_med, j_med, r_med = (statistics.median(x) for x in (healths, joins, rss))
        print(f"IRC server: {ircd.kind}; dashboard mounted; {runs} runs, idle {idle:g} s")
        print(f"exec -> /health 200     median {h_med * 1e3:7.1f} ms  max {max(healths) * 1e3:7.1f}"
              f" ms  target <= 1000 ms: {verdict(h_med <= 1.0)}")
        print(f"exec -> channel joined  median {j_med * 1e3:7.1f} ms  max {max(joins) * 1e3:7.1f}"
              f" ms  target <= 1000 ms: {verdict(j_med <= 1.0)}")
        print(f"idle RSS                median {r_med:7.1f} MB  max {max(rss):7.1f} MB"
              f"  target <= 55 MB: {verdict(r_med <= 55)}")
    finally:
        await stack.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS")
    parser.add_argument("--ircd", choices=["ngircd", "miniircd"], default=None)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.idle, args.ircd))
