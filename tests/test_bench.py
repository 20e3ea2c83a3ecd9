"""The process bench still runs: its deployment-like venv and one start against miniircd."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import runtime_venv

REPO = Path(__file__).resolve().parents[1]


def test_runtime_closure_is_the_runtime_dependencies_only() -> None:
    names = {d.metadata["Name"].lower() for d in runtime_venv.runtime_closure()}
    assert {"aiohttp", "aiohttp-session", "cryptography", "aiosqlite", "httpx", "irc",
            "jaraco.stream", "yarl", "httpcore"} <= names
    assert not names & {"ntrbot", "pytest", "hypothesis", "playwright", "sopel", "limnoria",
                        "miniircd", "trio", "click"}


def test_process_bench_smoke() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.process", "--runs", "1", "--idle", "0.2",
         "--ircd", "miniircd"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    for what in ("exec -> /health 200", "exec -> channel joined", "idle RSS",
                 "RSS after login+announce"):
        assert f"[miniircd] {what}" in out, out
    assert "its site-packages:" in out and "pytest" not in out.split("its site-packages:")[1]


def test_login_burst_bench_smoke() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.login_burst", "--count", "30"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert "attempts judged (password checked): " in out, out + proc.stderr[-2000:]
    judged = int(out.split("attempts judged (password checked): ")[1].split()[0])
    assert judged <= 5, out
    assert "let in past the limit: no" in out, out


def test_dead_link_bench_smoke() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.dead_link", "--rounds", "1",
                           "--ircd", "miniircd"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out[-2000:] + proc.stderr[-2000:]
    assert "unconfirmed announce -> /health says connected: false" in out, out
    assert "outcomes: 1 delivered" in out, out


def test_outputs_bench_smoke() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.outputs_latency", "--count", "5",
                           "--gap", "0.05", "--ircd", "miniircd"],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    out = proc.stdout
    assert proc.returncode == 0, out[-2000:] + proc.stderr[-2000:]
    assert "+ slow, dead hook click -> line" in out and "ratio with webhooks" in out, out
