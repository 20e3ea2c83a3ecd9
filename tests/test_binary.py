"""The one-file `ntrbot` executable (scripts/build-binary), run as a server without Python would.

Every run has a bare environment (`env -i`: HOME an empty directory, PATH=/usr/bin:/bin, no
venv, no PYTHON* variables, no locale) and an empty working directory. The binary is built
once per test run (tests/support/binary.py).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from ntrbot import __version__
from tests.support.binary import bare_env, built_binary
from tests.support.constants import ADMIN_TOKEN
from tests.support.demo import DemoProcess
from tests.support.fake_soundcloud import FakeSoundCloud, make_like
from tests.support.ircd import IrcServer
from tests.support.legacy_file import make_legacy
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess
from tests.support.rawirc import RawIrc

# The build (~30 s alone, minutes on a loaded machine) runs in the first test's setup.
pytestmark = [pytest.mark.binary, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def exe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_binary(tmp_path_factory)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    path = tmp_path / "cwd"
    path.mkdir()
    return path


def run(exe: Path, *args: str, home: Path, cwd: Path, stdin: str = "",
        **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], cwd=cwd, env=bare_env(home, **env), input=stdin,
                          capture_output=True, text=True, timeout=120, check=False)


async def arun(exe: Path, *args: str, home: Path, cwd: Path, **env: str) -> tuple[int, str, str]:
    """`run` without blocking the event loop (the test's servers run on it)."""
    proc = await asyncio.create_subprocess_exec(
        str(exe), *args, cwd=cwd, env=bare_env(home, **env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    return int(proc.returncode or 0), out.decode(), err.decode()


def show_week() -> dict[str, str]:
    """Show settings whose current week began three days ago (UTC)."""
    return {"NTR_SHOW_TIMEZONE": "UTC", "NTR_SHOW_HOUR": "0",
            "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday())}


def test_version_and_small_commands(exe: Path, home: Path, cwd: Path, tmp_path: Path) -> None:
    unpack = tmp_path / "unpack"
    unpack.mkdir()
    proc = run(exe, "--version", home=home, cwd=cwd, TMPDIR=str(unpack))
    assert (proc.returncode, proc.stdout.strip()) == (0, f"ntrbot {__version__}"), proc.stderr
    assert not any(unpack.iterdir())  # the one-file bundle's unpacked copy is removed

    secret = run(exe, "gen-secret", home=home, cwd=cwd).stdout.strip()
    assert len(secret) >= 32
    hashed = run(exe, "hash-password", home=home, cwd=cwd, stdin="hunter2-but-longer\n")
    assert hashed.returncode == 0 and hashed.stdout.startswith("scrypt$"), hashed.stderr
    assert "hunter2" not in hashed.stdout + hashed.stderr
    assert not any(cwd.iterdir()) and not any(home.iterdir())


def test_check_config_finds_the_bundled_time_zones(exe: Path, home: Path, cwd: Path,
                                                   tmp_path: Path) -> None:
    """No system zoneinfo (PYTHONTZPATH names an empty directory): the bundled tzdata."""
    no_zones = tmp_path / "zoneinfo"
    no_zones.mkdir()
    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "PYTHONTZPATH": str(no_zones)}
    proc = run(exe, "check-config", home=home, cwd=cwd, NTR_SHOW_TIMEZONE="Europe/Amsterdam",
               **env)
    assert proc.returncode == 0, proc.stderr
    assert "NTR_SHOW_TIMEZONE=Europe/Amsterdam" in proc.stdout.splitlines()
    assert "config ok" in proc.stderr and ADMIN_TOKEN not in proc.stdout + proc.stderr
    bad = run(exe, "check-config", home=home, cwd=cwd, NTR_SHOW_TIMEZONE="Mars/Olympus", **env)
    assert bad.returncode == 2 and "NTR_SHOW_TIMEZONE" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


@pytest.mark.e2e
async def test_demo_logs_in_and_announces_to_a_real_irc_server_then_backup(
        exe: Path, home: Path, cwd: Path, tmp_path: Path, miniircd: IrcServer) -> None:
    data = tmp_path / "data"
    demo = await DemoProcess(exe, cwd, "--data-dir", str(data), "--irc-server",
                             f"{miniircd.host}:{miniircd.port}",
                             env={"NTR_ANNOUNCE_CHANNEL": "#ntrbin", "NTR_IRC_NICK": "ntrbin"},
                             base_env=bare_env(home)).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "listener")
    try:
        await observer.join("#ntrbin")
        login = demo.field(r"login:\s+user (\S+)\s+password (\S+)")
        base = f"http://127.0.0.1:{demo.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            assert (await http.get("/health")).status_code == 200

            async def joined() -> bool:
                irc = (await http.get("/health")).json()["irc"]
                return bool(irc["connected"] and "#ntrbin" in irc["channels"])
            await wait_until(joined, what="the binary's bot in #ntrbin")

            # web/ is inside the binary: the public page, the dashboard and its script
            assert "<html" in (await http.get("/")).text.lower()
            resp = await http.post("/login", data={"username": login.group(1),
                                                   "password": login.group(2)})
            assert resp.status_code == 303 and "ntr_session" in http.cookies
            assert (await http.get("/dashboard")).status_code == 200
            assert (await http.get("/static/dashboard.js")).status_code == 200

            show = (await http.get("/playlist")).json()
            resp = await http.post("/admin/announce", json={"show_id": show["id"],
                                                            "position": 1},
                                   headers={"Origin": base})
            assert resp.status_code == 200, resp.text
            assert resp.json()["delivery"] == "delivered", resp.text
        msg = await observer.wait_privmsg("ntrbin", "#ntrbin", contains="Song #1:")
        assert msg.params[-1] == resp.json()["message"]
    finally:
        await observer.close()
        assert await demo.stop(signal.SIGTERM) == 0
    assert "Traceback" not in demo.log() and login.group(2) not in demo.log()
    assert [p.name for p in cwd.iterdir()] == [demo.log_path.name]  # noqa: ASYNC240 - nothing else written

    copy = tmp_path / "copy.db"
    proc = run(exe, "backup", str(copy), home=home, cwd=cwd, NTR_ADMIN_TOKEN=ADMIN_TOKEN,
               NTR_DB_PATH=str(data / "ntrbot-demo.db"))
    assert proc.returncode == 0, proc.stderr
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT COUNT(*) FROM shows").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM announcements").fetchone()[0] == 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    now = datetime.now(UTC)
    async with FakeSoundCloud() as sc:
        sc.set_likes([make_like(500 + i, now - timedelta(minutes=5 + i), title=f"Bin {i}")
                      for i in range(4)])
        yield sc


@pytest.mark.e2e
async def test_run_polls_soundcloud_and_joins_irc(exe: Path, home: Path, cwd: Path,
                                                  fake: FakeSoundCloud,
                                                  miniircd: IrcServer) -> None:
    """`NTR_ADMIN_TOKEN=... ./ntrbot`: the production path (outgoing HTTP, IRC client), on a
    system without CA certificates: the bundled certifi store is loaded."""
    env = {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
           "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, "NTR_IRC_SERVER": miniircd.host,
           "NTR_IRC_PORT": str(miniircd.port), "NTR_IRC_NICK": "ntrrun", **show_week()}
    code, out, err = await arun(exe, "poll", home=home, cwd=cwd,
                                NTR_DB_PATH=str(cwd / "poll.db"), **env)
    assert code == 0 and "4 likes" in out, err
    no_cas = {"SSL_CERT_FILE": str(home / "none.pem"), "SSL_CERT_DIR": str(home / "none")}
    bot = await NtrbotProcess(cwd, env, args=(), command=[str(exe)],
                              environ=bare_env(home, **no_cas)).start(timeout=60)
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=10) as http:
            async def polled() -> bool:
                return len((await http.get("/playlist")).json()["tracks"]) == 4

            async def connected() -> bool:
                return bool((await http.get("/health")).json()["irc"]["connected"])
            await wait_until(polled, what="the first poll")
            await wait_until(connected, what="IRC connected")
    finally:
        assert await bot.stop() == 0
    assert "Traceback" not in bot.log() and ADMIN_TOKEN not in bot.log()
    assert "no system CA certificates found: verifying with certifi's bundle" in bot.log()


def test_import_legacy(exe: Path, home: Path, cwd: Path, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    make_legacy(old)
    proc = run(exe, "import-legacy", str(old), home=home, cwd=cwd, NTR_ADMIN_TOKEN=ADMIN_TOKEN,
               NTR_DB_PATH=str(tmp_path / "new.db"), NTR_SHOW_TIMEZONE="America/New_York")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("3 shows, 10 tracks imported"), proc.stdout


def test_bundle_holds_web_time_zones_and_ca_certificates(exe: Path) -> None:
    """What the binary carries (PyInstaller's archive viewer lists files and modules)."""
    listing = subprocess.run(
        [sys.executable, "-m", "PyInstaller.utils.cliutils.archive_viewer", "-l", "-r", "-b",
         str(exe)], capture_output=True, text=True, timeout=120, check=True)
    names = {line.strip() for line in listing.stdout.splitlines()}
    assert "ntrbot.tools.cli" in names
    for name in ("ntrbot/web/dashboard.html", "ntrbot/web/vendor/pico.min.css",
                 "tzdata/zoneinfo/Europe/Amsterdam", "certifi/cacert.pem", "irc/codes.txt"):
        assert name in names, name
    for unneeded in ("pydantic", "numpy", "tkinter", "unittest", "pytest", "rich"):
        assert not any(n.split("/")[0].split(".")[0] == unneeded for n in names), unneeded
    assert exe.stat().st_size < 40e6


def test_binary_bench_smoke(exe: Path) -> None:
    """bench/binary.py still runs: size, cold/warm start, RSS beside the pip-like venv."""
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "bench.binary", "--exe", str(exe), "--runs",
                           "1", "--idle", "0.2"], cwd=repo, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    for what in ("size of ntrbot:", "cold exec -> /health 200", "warm exec -> /health 200",
                 "binary / pip venv RSS in the show state:"):
        assert what in proc.stdout, proc.stdout
