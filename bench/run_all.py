"""Run every bench in turn (each in its own process) and print the machine and all figures."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import machine

BENCHES: list[tuple[str, list[str]]] = [
    ("announce_latency", []),
    ("ws_fanout", []),
    ("poller", []),
    ("http_playlist", []),
    ("process", []),
    ("login_burst", []),
    ("dead_link", []),
    ("outputs_latency", []),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy ntrbot where a bench supports it (pip install py-spy)")
    parser.add_argument("only", nargs="*", help="bench names to run (default: all)")
    args = parser.parse_args()
    quick = {"announce_latency": ["--count", "30", "--warmup", "5"],
             "ws_fanout": ["--repeats", "10"], "poller": ["--likes", "1000"],
             "http_playlist": ["--seconds", "2"], "process": ["--runs", "2", "--idle", "1"],
             "login_burst": ["--count", "60"], "dead_link": ["--rounds", "1"],
             "outputs_latency": ["--count", "20"]}
    profiled = {"announce_latency", "ws_fanout", "http_playlist"}
    print("== machine ==")
    print(machine())
    print()
    failed = 0
    for name, extra in BENCHES:
        if args.only and name not in args.only:
            continue
        cmd = [sys.executable, "-m", f"bench.{name}", *extra]
        if args.quick:
            cmd += quick.get(name, [])
        if args.profile and name in profiled:
            cmd.append("--profile")
        t0 = time.monotonic()
        code = subprocess.run(cmd, timeout=900, check=False).returncode
        print(f"({name}: exit {code}, {time.monotonic() - t0:.0f} s)\n", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
