"""Pytest plugin: real IRC servers (miniircd; ngircd, InspIRCd, ircd-hybrid) on a free port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.unpriv import drop_prefix, give_to_test_user

HOST = "127.0.0.1"
NGIRCD = shutil.which("ngircd")
INSPIRCD = shutil.which("inspircd") or next(
    (p for p in ("/usr/sbin/inspircd", "/usr/bin/inspircd") if os.access(p, os.X_OK)), None)
MODULEDIR = next((p for p in ("/usr/lib/inspircd/modules", "/usr/lib64/inspircd/modules")
                  if os.path.isdir(p)), "/usr/lib/inspircd/modules")
INSPIRCD_MODULES = ("cap ircv3 ircv3_echomessage ircv3_labeledresponse ircv3_msgid "
                    "ircv3_servertime ircv3_ctctags ircv3_batch ircv3_capnotify botmode").split()
# ircd-hybrid conflicts with ngircd in apt, so scripts/test extracts its .deb into
# .cache/ircd-hybrid/root (and its modules into /usr/lib/ircd-hybrid, the path compiled in).
_REPO = Path(__file__).resolve().parents[2]
HYBRID = shutil.which("ircd-hybrid") or next(
    (p for p in (str(_REPO / ".cache/ircd-hybrid/root/usr/sbin/ircd-hybrid"),
                 "/usr/sbin/ircd-hybrid") if os.access(p, os.X_OK)), None)
HYBRID_MODULES = "/usr/lib/ircd-hybrid/modules"
if HYBRID is not None and not os.path.isdir(os.path.join(HYBRID_MODULES, "autoload")):
    HYBRID = None  # the binary alone cannot start
# An IRC operator on the InspIRCd test server: OPER ntrop ntrop (may KILL, DIE, ...).
INSPIRCD_OPER = ("ntrop", "ntrop")

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

# InspIRCd 3: loopback only, no DNS/ident, no flood or clone limits, first joiner gets +o
# (defaultmodes "o"), IRCv3 caps and +B. It registers clients on its once-a-second tick, so a
# connect takes up to ~1 s; commands are not fakelagged.
INSPIRCD_CONF = """\
<server name="irc.test" description="ntrbot test server" network="ntrtest">
<admin name="ntrbot tests" nick="admin" email="tests@example.invalid">
<path configdir="{dir}" datadir="{dir}" logdir="{dir}" runtimedir="{dir}" moduledir="{moduledir}">
<bind address="{host}" port="{port}" type="clients">
<power diepass="ntrdie" restartpass="ntrrestart">
<connect name="tests" allow="*" timeout="60" pingfreq="300" hardsendq="16M" softsendq="1M"
         recvq="1M" threshold="1000000" commandrate="100000000" fakelag="no"
         localmax="100000" globalmax="100000" maxconnwarn="no" resolvehostnames="no"
         useident="no" limit="100000" maxchans="100">
<files motd="{dir}/motd.txt">
<dns server="127.0.0.1" timeout="5">
<options defaultmodes="not" syntaxhints="no" announcets="yes" hostintopic="yes"
         pingwarning="0" splitwhois="no">
<performance quietbursts="yes" softlimit="4096" somaxconn="128" clonesonconnect="no">
<security hideserver="" flatlinks="no" hidesplits="no" hidebans="no" maxtargets="20">
<class name="all" commands="*" privs="*" usermodes="*" snomasks="*">
<type name="NetAdmin" classes="all">
<oper name="{oper}" password="{oper_password}" host="*@*" type="NetAdmin">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{dir}/ircd.log">
{modules}
"""


# ircd-hybrid 8.2: loopback, no ident/DNS, first joiner op, stock flood limits. Its stock
# reconnect throttle (one connection per IP per 2 s, "trying to (re)connect too fast") is on
# only with IrcServer("hybrid", throttle=True): test observers connect from the same IP.
HYBRID_CONF = """\
serverinfo {{
    name = "irc.test";
    description = "ntrbot test server";
    network_name = "ntrtest";
    hub = no;
    default_max_clients = 1000;
    max_nick_length = 30;
    max_topic_length = 300;
}};
admin {{ name = "ntrbot tests"; description = "loopback"; email = "<tests@example.invalid>"; }};
class {{
    name = "users";
    ping_time = 300 seconds;
    number_per_ip_local = 1000;
    number_per_ip_global = 1000;
    max_number = 1000;
    sendq = 1 megabytes;
    recvq = 2560 bytes;
}};
class {{ name = "opers"; ping_time = 300 seconds; number_per_ip_local = 100; max_number = 100;
         sendq = 1 megabytes; }};
listen {{ host = "{host}"; port = {port}; }};
auth {{ user = "*@*"; class = "users"; }};
operator {{ name = "{oper}"; user = "*@*"; password = "{oper_password}"; encrypted = no;
            class = "opers"; flags = admin, kill, remoteban, die, rehash, unkline; }};
channel {{ max_channels = 100; default_join_flood_count = 0; }};
general {{
    disable_auth = yes;
    throttle_count = {throttle_count};
    throttle_time = {throttle_time} seconds;
    ping_cookie = no;
    invisible_on_connect = no;
    anti_nick_flood = no;
}};
modules {{
    path = "{modules}";
    path = "{modules}/autoload";
}};
motd {{ mask = "*"; file = "{dir}/motd.txt"; }};
"""
# An IRC operator on the ircd-hybrid test server: OPER ntrop ntrop (may KILL).
HYBRID_OPER = ("ntrop", "ntrop")
# The operator (name, password) each server's config grants; the others have none.
OPERS = {"inspircd": INSPIRCD_OPER, "hybrid": HYBRID_OPER}


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class IrcServer:
    """A real IRC server process; stop() kills it, start() brings it back on the same port."""

    def __init__(self, kind: str, port: int | None = None, *, throttle: bool = False) -> None:
        self.kind = kind
        self.throttle = throttle  # ircd-hybrid: its stock reconnect throttle on
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
        if self.kind == "inspircd":
            return self._inspircd_command()
        if self.kind == "hybrid":
            return self._hybrid_command()
        conf = self.dir / "ngircd.conf"
        conf.write_text(NGIRCD_CONF.format(host=self.host, port=self.port, dir=self.dir))
        (self.dir / "help.txt").write_text("no help\n")
        os.chmod(self.dir, 0o755)
        assert NGIRCD is not None
        return [NGIRCD, "-n", "-f", str(conf)]

    def _inspircd_command(self) -> list[str]:
        """Write the config; InspIRCd refuses root, so it runs as the unprivileged test user."""
        if INSPIRCD is None:
            raise RuntimeError("inspircd is not installed")
        conf = self.dir / "inspircd.conf"
        modules = "\n".join(f'<module name="{m}">' for m in INSPIRCD_MODULES)
        conf.write_text(INSPIRCD_CONF.format(
            host=self.host, port=self.port, dir=self.dir, moduledir=MODULEDIR, modules=modules,
            oper=INSPIRCD_OPER[0], oper_password=INSPIRCD_OPER[1]))
        (self.dir / "motd.txt").write_text("ntrbot test server\n")
        os.chmod(self.dir, 0o755)
        give_to_test_user(self.dir)
        cmd = [INSPIRCD, "--nofork", "--nopid", "--config", str(conf)]
        probe = ["sh", "-c", f"'{INSPIRCD}' --version >/dev/null && id -u"]
        try:
            return [*drop_prefix(probe), *cmd]
        except RuntimeError:  # root without runuser/setpriv: tell InspIRCd it may run as root
            return [*cmd, "--runasroot"]

    def _hybrid_command(self) -> list[str]:
        """Write the config; ircd-hybrid refuses root, so it runs as the unprivileged user."""
        if HYBRID is None:
            raise RuntimeError("ircd-hybrid is not installed")
        conf = self.dir / "ircd.conf"
        count, seconds = (1, 2) if self.throttle else (1000, 1)
        conf.write_text(HYBRID_CONF.format(
            host=self.host, port=self.port, dir=self.dir, modules=HYBRID_MODULES,
            throttle_count=count, throttle_time=seconds,
            oper=HYBRID_OPER[0], oper_password=HYBRID_OPER[1]))
        (self.dir / "motd.txt").write_text("ntrbot test server\n")
        os.chmod(self.dir, 0o755)
        give_to_test_user(self.dir)
        d = self.dir
        for stale in ("ircd.pid", "ircd.log"):  # a killed server leaves them behind
            (d / stale).unlink(missing_ok=True)
        cmd = [HYBRID, "-foreground", "-configfile", str(conf), "-logfile", str(d / "ircd.log"),
               "-pidfile", str(d / "ircd.pid"), "-klinefile", str(d / "kline.db"),
               "-dlinefile", str(d / "dline.db"), "-xlinefile", str(d / "xline.db"),
               "-resvfile", str(d / "resv.db")]
        probe = ["sh", "-c", f"'{HYBRID}' -version >/dev/null && id -u"]
        return [*drop_prefix(probe), *cmd]

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
            if self._ready():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} did not listen on {self.port}: "
                           f"{self.log.read_text()[-2000:]}")

    def _ready(self) -> bool:
        if self.kind == "hybrid":
            # a probe connect would count against its reconnect throttle: read its log
            log = self.dir / "ircd.log"
            return log.exists() and "Server ready" in log.read_text(errors="replace")
        return port_open(self.port)

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

    @property
    def oper(self) -> tuple[str, str]:
        """OPER name and password of this server's test operator (inspircd, hybrid)."""
        return OPERS[self.kind]

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
    pytest.param("inspircd", id="inspircd", marks=[
        pytest.mark.inspircd,
        pytest.mark.skipif(INSPIRCD is None, reason="inspircd is not installed"),
    ]),
    pytest.param("hybrid", id="hybrid", marks=[
        pytest.mark.hybrid,
        pytest.mark.skipif(HYBRID is None, reason="ircd-hybrid is not installed"),
    ]),
]
_BINARIES = {"miniircd": sys.executable, "ngircd": NGIRCD, "inspircd": INSPIRCD,
             "hybrid": HYBRID}
# Fixtures that need one particular server, and the marker their tests get (for -m).
_KIND_FIXTURES = {"ngircd_server": "ngircd", "inspircd_server": "inspircd",
                  "hybrid_server": "hybrid"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests using ngircd_server/inspircd_server carry the ngircd/inspircd marker."""
    for item in items:
        for fixture, marker in _KIND_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, marker))


@contextmanager
def running_server(kind: str, **options: Any) -> Iterator[IrcServer]:
    """A started IrcServer of ``kind``, killed and its directory removed on exit.

    Skips the test when that server is not installed.
    """
    if _BINARIES.get(kind) is None:
        pytest.skip(f"{kind} is not installed")
    server = IrcServer(kind, **options)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture(params=SERVER_KINDS)
def ircd_kind(request: pytest.FixtureRequest) -> str:
    """'miniircd', 'ngircd', 'inspircd' or 'hybrid'; tests using `ircd` run once per kind."""
    kind: str = request.param
    return kind


@pytest.fixture
def ircd(ircd_kind: str) -> Iterator[IrcServer]:
    """A running real IRC server on a free loopback port (killed afterwards)."""
    with running_server(ircd_kind) as server:
        yield server


def _only(kind: str, name: str, doc: str) -> Any:
    """A fixture ``name`` giving a running server of ``kind`` only (skipped if absent)."""
    def fixture() -> Iterator[IrcServer]:
        with running_server(kind) as server:
            yield server
    fixture.__doc__ = doc
    return pytest.fixture(name=name)(fixture)


miniircd = _only("miniircd", "miniircd", "miniircd only.")
ngircd_server = _only("ngircd", "ngircd_server", "ngircd only (skipped when it is not installed).")
inspircd_server = _only("inspircd", "inspircd_server", "InspIRCd 3 only (skipped when it is not "
                        "installed): IRCv3 caps, +B, first joiner op.")
hybrid_server = _only("hybrid", "hybrid_server", "ircd-hybrid 8 only (skipped when it is not "
                      "installed): first joiner op, no throttle.")


def server_kinds(*kinds: str) -> list[Any]:
    """The SERVER_KINDS params (with their markers and skips) of ``kinds`` only."""
    return [p for p in SERVER_KINDS if p.values[0] in kinds]


@pytest.fixture
def ircd_factory() -> Iterator[Callable[..., IrcServer]]:
    """make(kind, **options) starts another server of that kind; all are killed afterwards."""
    with ExitStack() as servers:
        def make(kind: str, **options: Any) -> IrcServer:
            return servers.enter_context(running_server(kind, **options))

        yield make
