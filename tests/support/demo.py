"""`ntrbot demo` as a process for tests: started, its banner parsed, stopped by a signal."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

from tests.support.net import free_port


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without NTR_ variables and PYTHONPATH/PYTHONHOME, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NTR_") and k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update({"PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}, **extra)
    return env


class DemoProcess:
    """`ntrbot demo` (a console script, `python -m ntrbot` or the binary), its banner parsed."""

    def __init__(self, exe: Path | list[str], workdir: Path, *args: str,
                 env: dict[str, str] | None = None,
                 base_env: dict[str, str] | None = None) -> None:
        self.command = [str(exe)] if isinstance(exe, Path) else exe
        self.workdir, self.args, self.extra_env = workdir, args, env or {}
        # The environment it starts from: this one less NTR_ and PYTHONPATH by default.
        self.base_env = clean_env() if base_env is None else base_env
        self.port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.banner: list[str] = []
        self.log_path = workdir / "demo.log"

    async def start(self, timeout: float = 60.0) -> DemoProcess:
        with open(self.log_path, "wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command, "demo", *self.args, cwd=self.workdir,
                stdout=asyncio.subprocess.PIPE, stderr=log,
                env={**self.base_env, "NTR_HOST": "127.0.0.1", "NTR_PORT": str(self.port),
                     "NTR_ADMIN_TOKEN": "must-not-be-used-by-the-demo", **self.extra_env})
        assert self.proc.stdout is not None
        async with asyncio.timeout(timeout):
            while not self.banner or not self.banner[-1].startswith("Stop it"):
                line = await self.proc.stdout.readline()
                if not line:
                    raise AssertionError(f"demo exited early:\n{self.log()}")
                self.banner.append(line.decode().rstrip("\n"))
        return self

    def field(self, pattern: str) -> re.Match[str]:
        for line in self.banner:
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"{pattern!r} not in the banner:\n" + "\n".join(self.banner))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def stop(self, sig: int = signal.SIGINT) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        try:
            async with asyncio.timeout(20):
                return await self.proc.wait()
        except TimeoutError:
            self.proc.kill()
            raise
