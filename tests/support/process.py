"""Start and stop the real `ntrbot` process for end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]


class NtrbotProcess:
    """`python -m ntrbot ARGS` with a clean NTR_ environment, logging to a file.

    `command` runs another ntrbot instead (the one-file binary) and `environ` is the
    environment it starts from (default: this process's)."""

    def __init__(self, workdir: Path, env: dict[str, str], args: tuple[str, ...] = ("run",),
                 port: int | None = None, command: list[str] | None = None,
                 environ: Mapping[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.command = command or [sys.executable, "-m", "ntrbot"]
        base = os.environ if environ is None else environ
        self.env = {k: v for k, v in base.items() if not k.startswith("NTR_")}
        if self.command[1:] == ["-m", "ntrbot"]:
            # A Python runs the code of this checkout, whatever `pip install -e` points at.
            self.env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO), self.env.get("PYTHONPATH", "")) if p)
        # Never reach the real SoundCloud: a refused loopback port unless a test says where.
        nowhere = f"http://127.0.0.1:{free_port()}"
        self.env.update({"NTR_SOUNDCLOUD_API_BASE": nowhere, "NTR_SOUNDCLOUD_WEB_BASE": nowhere})
        self.env.update({"NTR_HOST": "127.0.0.1", "NTR_PORT": str(self.port),
                         "NTR_DB_PATH": str(workdir / "ntrbot.db"), "PYTHONUNBUFFERED": "1"})
        self.env.update(env)
        self.args = args
        self.log_path = workdir / f"ntrbot-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, timeout: float = 30.0) -> NtrbotProcess:
        """Spawn and wait until GET /health answers 200."""
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([*self.command, *self.args],
                                         cwd=self.workdir, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"ntrbot exited {self.proc.returncode}:\n{self.log()}")
                try:
                    if (await client.get(self.base_url + "/health")).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)
        self.kill()
        raise RuntimeError(f"ntrbot did not answer /health in {timeout} s:\n{self.log()}")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send `sig` and wait for the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.kill()
            raise RuntimeError(f"ntrbot ignored signal {sig}:\n{self.log()}")
        return int(self.proc.returncode)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
