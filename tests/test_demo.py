"""`ntrbot demo`: installed from the repository into a fresh venv, logged in, announced."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from ntrbot.settings import ConfigError
from ntrbot.soundcloud.errors import SoundCloudNotFound
from ntrbot.tools.demo import DemoError, banner, demo_settings, parse_irc_server
from ntrbot.tools.sample_data import SampleSoundCloud, sample_playlists
from ntrbot.weeks import ShowClock
from tests.support.demo import DemoProcess, clean_env
from tests.support.ircd import IrcServer
from tests.support.net import wait_until
from tests.support.rawirc import RawIrc

REPO = Path(__file__).resolve().parents[1]
# What `pip install .` needs from the working tree (untracked files included).
PACKAGE_FILES = ("pyproject.toml", "README.md", "ntrbot", "web")
# Under pytest-xdist (--dist loadgroup) the module runs on one worker: one demo_venv build.
pytestmark = pytest.mark.xdist_group("demo-venv")


def _offline_build_possible() -> bool:
    """True when this interpreter's setuptools can build the wheel without fetching anything."""
    try:
        version = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    if version >= (70, 1):
        return True
    try:
        metadata.version("wheel")
    except metadata.PackageNotFoundError:
        return False
    return version >= (68, 0)


def _site_dirs() -> list[str]:
    """This interpreter's site-packages directories (an outer venv's included)."""
    return [p for p in sys.path
            if Path(p).name in {"site-packages", "dist-packages"} and Path(p).is_dir()]


@pytest.fixture(scope="module")
def demo_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with ntrbot installed (not linked) from a copy of this working tree.

    Its dependencies (aiohttp, ...) and pip come from this interpreter's site-packages
    through a .pth file — a path entry only, so an editable install of ntrbot there is not
    activated — and nothing is downloaded for them. The copy keeps the build's egg-info and
    build/ out of the shared tree.
    """
    root = tmp_path_factory.mktemp("demo-venv")
    src = root / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, src / name)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_outer_site.pth").write_text("\n".join(_site_dirs()) + "\n")
    pip = [str(python), "-m", "pip", "install", "--no-deps", "-q"]
    if _offline_build_possible():
        pip += ["--no-build-isolation", "--no-index"]
    # Otherwise pip fetches the build backend (setuptools) from its configured index.
    proc = subprocess.run([*pip, str(src)], cwd=root, env=clean_env(), capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"pip install of the working tree failed:\n{proc.stdout}\n{proc.stderr}")
    yield venv
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def demo(demo_venv: Path, tmp_path: Path) -> AsyncIterator[DemoProcess]:
    proc = await DemoProcess(demo_venv / "bin" / "ntrbot", tmp_path).start()
    try:
        yield proc
    finally:
        if proc.proc is not None and proc.proc.returncode is None:
            proc.proc.kill()
            await proc.proc.wait()


def test_the_venv_runs_the_installed_package_not_the_tree(demo_venv: Path,
                                                          tmp_path: Path) -> None:
    out = subprocess.run([str(demo_venv / "bin" / "python"), "-c",
                          "import ntrbot, ntrbot.http.dashboard as d; "
                          "print(ntrbot.__file__); print(d.web_dir())"],
                         cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                         timeout=60, check=True).stdout.splitlines()
    assert all(line.startswith(str(demo_venv)) for line in out), out
    assert (Path(out[1]) / "dashboard.html").is_file()


@pytest.mark.e2e
async def test_demo_from_a_fresh_venv_logs_in_and_announces(demo: DemoProcess) -> None:
    url = demo.field(r"dashboard:\s+(http://\S+)").group(1)
    login = demo.field(r"login:\s+user (\S+)\s+password (\S+)")
    user, password = login.group(1), login.group(2)
    base = url.rsplit("/", 1)[0]
    assert base == f"http://127.0.0.1:{demo.port}"  # NTR_HOST / NTR_PORT honoured
    assert "IRC:       off" in "\n".join(demo.banner)
    assert not any("token" in line.lower() for line in demo.banner)  # not unless asked

    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        health = (await http.get("/health")).json()
        assert health["irc"]["enabled"] is False and health["status"] == "ok"
        shows = (await http.get("/shows")).json()
        assert shows["total"] == 2
        current = (await http.get("/playlist")).json()
        assert len(current["tracks"]) >= 10
        previous = (await http.get(f"/shows/{shows['shows'][1]['id']}")).json()
        assert len(previous["tracks"]) >= 10

        wrong = await http.post("/login", data={"username": user, "password": "nope"})
        assert wrong.status_code == 200 and "Invalid" in wrong.text
        resp = await http.post("/login", data={"username": user, "password": password})
        assert resp.status_code == 303 and resp.headers["Location"] == "/dashboard"
        assert "ntr_session" in http.cookies
        assert (await http.get("/dashboard")).status_code == 200

        body = {"show_id": current["id"], "position": 3}
        foreign = await http.post("/admin/announce", json=body,
                                  headers={"Origin": "http://evil.example"})
        assert foreign.status_code == 403
        resp = await http.post("/admin/announce", json=body, headers={"Origin": base})
        assert resp.status_code == 200, resp.text
        result = resp.json()
        track = current["tracks"][2]
        assert result["status"] == "announced"
        assert result["message"] == (f"Now Playing: Song #3: {track['title']} by "
                                     f"{track['artist']} - {track['permalink_url']}")
        assert result["delivery"] == "failed" and "IRC" in result["irc"]  # IRC off: reported

        refresh = await http.post("/admin/refresh", headers={"Origin": base})
        assert refresh.status_code == 200, refresh.text  # the sample SoundCloud, offline
        assert (await http.get("/health")).json()["poller"]["last_success"]

        again = await http.post("/admin/announce", json=body, headers={"Origin": base})
        assert again.status_code == 409 and again.json()["announced_at"]
        history = (await http.get(f"/shows/{current['id']}/announcements")).json()
        [recorded] = history["announcements"]
        assert recorded["position"] == 3 and recorded["who"] == f"web:{user}"
        assert recorded["delivery"] == "failed"

    assert await demo.stop(signal.SIGINT) == 0
    data_dir = Path(demo.field(r"data:\s+(\S+)").group(1))
    assert not data_dir.exists()  # noqa: ASYNC240 - the temp data dir is gone
    log = demo.log()
    assert "Traceback" not in log and password not in log


@pytest.mark.e2e
async def test_demo_data_dir_is_kept_and_reused(demo_venv: Path, tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    for _ in range(2):
        demo = await DemoProcess(demo_venv / "bin" / "ntrbot", tmp_path, "--data-dir",
                                 str(data)).start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{demo.port}") as http:
                shows = (await http.get("/shows")).json()
                assert shows["total"] == 2
                assert len((await http.get("/playlist")).json()["tracks"]) == 11
        finally:
            assert await demo.stop(signal.SIGTERM) == 0
        assert (data / "ntrbot-demo.db").is_file()


@pytest.mark.e2e
async def test_demo_with_irc_server_announces_to_the_channel(miniircd: IrcServer,
                                                             tmp_path: Path) -> None:
    demo = await DemoProcess([sys.executable, "-m", "ntrbot"], tmp_path, "--irc-server",
                             f"{miniircd.host}:{miniircd.port}", "--show-token",
                             env={"NTR_ANNOUNCE_CHANNEL": "#ntrdemo",
                                  "NTR_IRC_NICK": "ntrdemo"}).start()
    observer = await RawIrc.connect(miniircd.host, miniircd.port, "listener")
    try:
        await observer.join("#ntrdemo")
        token = demo.field(r"admin token: (\S+)").group(1)
        assert f"{miniircd.host}:{miniircd.port}, announcing to #ntrdemo" in "\n".join(
            demo.banner)
        base = f"http://127.0.0.1:{demo.port}"
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            async def joined() -> bool:
                irc = (await http.get("/health")).json()["irc"]
                return irc["connected"] and "#ntrdemo" in irc["channels"]
            await wait_until(joined)
            show = (await http.get("/playlist")).json()
            resp = await http.post("/admin/announce", json={"show_id": show["id"], "position": 1},
                                   headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 200 and resp.json()["delivery"] == "delivered", resp.text
        msg = await observer.wait_privmsg("ntrdemo", "#ntrdemo", contains="Song #1:")
        assert msg.params[-1] == resp.json()["message"]
    finally:
        await observer.close()
        assert await demo.stop(signal.SIGTERM) == 0
    assert "Traceback" not in demo.log() and token not in demo.log()


# --- in-process pieces -----------------------------------------------------------------

def test_demo_ignores_production_settings_and_makes_its_own(tmp_path: Path) -> None:
    env = {"NTR_ADMIN_TOKEN": "prod-token", "NTR_DB_PATH": "/srv/ntrbot/prod.db",
           "NTR_WEB_PASSWORD": "prod-pass", "NTR_IRC_SERVER": "irc.example.net",
           "NTR_HOST": "0.0.0.0", "NTR_PORT": "8123", "NTR_ANNOUNCE_CHANNEL": "#test"}
    one = demo_settings(tmp_path, None, 9, env)
    two = demo_settings(tmp_path, None, 9, env)
    assert one.admin_token != "prod-token" and one.admin_token != two.admin_token
    assert one.web_password != "prod-pass" and one.web_password != two.web_password
    assert len(one.secret_key or "") >= 32 and one.web_user == "demo"
    assert one.db_path == str(tmp_path / "ntrbot-demo.db")
    assert not one.irc_enabled  # IRC only with --irc-server
    assert (one.host, one.port) == ("0.0.0.0", 8123)
    assert one.soundcloud_api_base == "http://127.0.0.1:9"
    text = banner(one, 8123, tmp_path, True, show_token=False)
    assert "http://127.0.0.1:8123/dashboard" in text and one.admin_token not in text
    assert one.admin_token in banner(one, 8123, tmp_path, True, show_token=True)


def test_demo_irc_server_joins_the_announce_channel(tmp_path: Path) -> None:
    s = demo_settings(tmp_path, "irc.local:6697", 9, {"NTR_ANNOUNCE_CHANNEL": "#ntr-test"})
    assert (s.irc_server, s.irc_port, s.irc_channels) == ("irc.local", 6697, ("#ntr-test",))
    s = demo_settings(tmp_path, "localhost", 9, {})
    assert (s.irc_port, s.announce_channel, s.irc_channels) == (6667, "#sewerchat",
                                                                ("#sewerchat",))


@pytest.mark.parametrize(("value", "expected"), [
    ("irc.local", ("irc.local", None)), ("irc.local:6697", ("irc.local", 6697)),
    ("[::1]:6667", ("::1", 6667)), ("::1", ("::1", None)),
])
def test_parse_irc_server(value: str, expected: tuple[str, int | None]) -> None:
    assert parse_irc_server(value) == expected


@pytest.mark.parametrize("value", ["", ":6667", "host:port", "[::1]:x"])
def test_parse_irc_server_refuses(value: str) -> None:
    with pytest.raises(DemoError):
        parse_irc_server(value)


def test_bad_demo_setting_is_one_line_exit_2(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NTR_PORT"):
        demo_settings(tmp_path, None, 9, {"NTR_PORT": "http"})
    proc = subprocess.run([sys.executable, "-m", "ntrbot", "demo"], cwd=tmp_path,
                          env=clean_env(NTR_PORT="http"), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "NTR_PORT" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("hours_in", [0.01, 30, 24 * 7 - 0.01])
def test_sample_shows_fit_their_weeks(hours_in: float) -> None:
    clock = ShowClock(2, 22, ZoneInfo("America/New_York"))
    start = clock.week_of(datetime(2026, 3, 13, tzinfo=UTC))[0]
    now = start + timedelta(hours=hours_in)
    tracks, playlists = sample_playlists(clock, now)
    assert len({t.id for t in tracks}) == len(tracks) == 23
    (old_week, old), (week, new) = sorted(playlists.items())
    assert week == clock.week_of(now) and old_week == clock.previous_week(week[0])
    assert len(old) == 12 and len(new) == 11
    for (begin, end), items in playlists.items():
        times = [at for _, at, _ in items]
        assert times == sorted(times) and all(begin <= t < end for t in times)
    if hours_in > 1:
        assert all(at <= now for _, at, _ in new)
    assert all(t.permalink_url.startswith("https://soundcloud.com/") and t.duration_ms
               for t in tracks)


async def test_sample_soundcloud_pages_and_resolves() -> None:
    clock = ShowClock(2, 22, ZoneInfo("America/New_York"))
    now = datetime(2026, 3, 13, tzinfo=UTC)
    sc = SampleSoundCloud(clock, lambda: now)
    user = await sc.resolve_user("nicktherat")
    pages = [page async for page in sc.iter_like_pages(user, page_size=10)]
    assert [len(p) for p in pages] == [10, 10, 3]
    likes = [lk for p in pages for lk in p]
    assert [lk.liked_at for lk in likes] == sorted((lk.liked_at for lk in likes), reverse=True)
    track = likes[0].track
    assert await sc.resolve_track(track.permalink_url + "?si=x") == track
    with pytest.raises(SoundCloudNotFound):
        await sc.resolve_track("https://soundcloud.com/someone/else")


def test_demo_port_in_use_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "ntrbot", "--log-level", "ERROR", "demo"],
                              cwd=tmp_path, env=clean_env(NTR_PORT=str(port)),
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"ntrbot: cannot listen on 127.0.0.1:{port}: " \
                                  "Address already in use"
    assert "password" not in proc.stdout  # no banner for a demo that is not running
