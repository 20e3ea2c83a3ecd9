"""Pytest plugin: real IRC servers (miniircd, and ngircd when installed) on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HOST = "127.0.0.1"
NGIRCD = shutil.which("ngircd")

NGIRCD_CONF = """\
[Global]
Name = irc.test
Info = ntrbot test server
AdminInfo1 = ntrbot tests
AdminInfo2 = loopback
AdminEMail = tests@example.invalid
Listen = {host}
Ports = {port}
MotdPhrase = ntrbot test server
PidFile = {dir}/ngircd.pid
HelpFile = {dir}/help.txt

[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
MaxJoins = 0
PingTimeout = 300
PongTimeout = 60
ConnectRetry = 5

[Options]
PAM = no
Ident = no
DNS = no
MorePrivacy = no
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class IrcServer:
    """A real IRC server process; stop() kills it, start() brings it back on the same port."""

    def __init__(self, kind: str, port: int | None = None) -> None:
        self.kind = kind
        self.host = HOST
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"ntrbot-{kind}-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "server.log"

    def _command(self) -> list[str]:
        if self.kind == "miniircd":
            cmd = [sys.executable, "-m", "miniircd", "--listen", self.host,
                   "--ports", str(self.port)]
            if os.geteuid() == 0:  # miniircd refuses root unless told so
                cmd += ["--setuid", "root"]
            return cmd
        conf = self.dir / "ngircd.conf"
        conf.write_text(NGIRCD_CONF.format(host=self.host, port=self.port, dir=self.dir))
        (self.dir / "help.txt").write_text("no help\n")
        os.chmod(self.dir, 0o755)
        assert NGIRCD is not None
        return [NGIRCD, "-n", "-f", str(conf)]

    def start(self, timeout: float = 20.0) -> None:
        assert self.proc is None, "already running"
        out = open(self.log, "ab")  # handed to the process, closed below
        self.proc = subprocess.Popen(self._command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: {self.log.read_text()[-2000:]}")
            if port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen on {self.port}: "
                           f"{self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        """Kill the server (SIGKILL, as a crash would) and wait until the port is free."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=20)
        self.proc = None
        deadline = time.monotonic() + 20
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __repr__(self) -> str:
        return f"IrcServer({self.kind}, {self.host}:{self.port})"


SERVER_KINDS = [
    pytest.param("miniircd", id="miniircd"),
    pytest.param("ngircd", id="ngircd", marks=[
        pytest.mark.ngircd,
        pytest.mark.skipif(NGIRCD is None, reason="ngircd is not installed"),
    ]),
]


@pytest.fixture(params=SERVER_KINDS)
def ircd_kind(request: pytest.FixtureRequest) -> str:
    """'miniircd' or 'ngircd'; tests using `ircd` run once per kind."""
    return request.param


@pytest.fixture
def ircd(ircd_kind: str) -> Iterator[IrcServer]:
    """A running real IRC server on a free loopback port (killed afterwards)."""
    server = IrcServer(ircd_kind)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def miniircd() -> Iterator[IrcServer]:
    """miniircd only."""
    server = IrcServer("miniircd")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)
