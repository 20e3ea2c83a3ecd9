"""The real `ntrbot` process against the local api-v2 stand-in: start, serve, refresh, stop."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.constants import ADMIN_TOKEN
from tests.support.fake_soundcloud import DEFAULT_CLIENT_ID, FakeSoundCloud, make_like
from tests.support.net import wait_until
from tests.support.process import NtrbotProcess

pytestmark = pytest.mark.e2e


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud() as sc:
        yield sc


def env_for(fake: FakeSoundCloud) -> dict[str, str]:
    return {"NTR_ADMIN_TOKEN": ADMIN_TOKEN, "NTR_SOUNDCLOUD_API_BASE": fake.api_base,
            "NTR_SOUNDCLOUD_WEB_BASE": fake.web_base, "NTR_SHOW_TIMEZONE": "UTC",
            # Week starts 3 days ago, so "now" sits inside a known week whatever today is.
            "NTR_SHOW_DAY": str((datetime.now(UTC) - timedelta(days=3)).weekday()),
            "NTR_SHOW_HOUR": "0"}


async def test_real_process_serves_the_playlist(fake: FakeSoundCloud, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    week_start = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    fake.set_likes([
        make_like(11, week_start + timedelta(hours=1), title="First", artist="DJ One"),
        make_like(12, week_start + timedelta(hours=2), title="Second"),
        make_like(9, week_start - timedelta(days=2), title="Last week"),
    ])
    bot = await NtrbotProcess(tmp_path, env_for(fake)).start()
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=5) as http:
            async def tracks() -> list[str]:
                body = (await http.get("/playlist")).json()
                return [t["title"] for t in body["tracks"]]

            assert await wait_until(tracks) == ["First", "Second"]
            one = (await http.get("/playlist/1")).json()
            assert one["artist"] == "DJ One"
            shows = (await http.get("/shows")).json()
            assert shows["total"] == 2
            previous = (await http.get(f"/shows/{shows['shows'][1]['id']}")).json()
            assert [t["title"] for t in previous["tracks"]] == ["Last week"]

            fake.add_like(make_like(13, now - timedelta(minutes=1), title="Fresh"))
            denied = await http.post("/admin/refresh")
            assert denied.status_code == 401
            ok = await http.post("/admin/refresh",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert ok.status_code == 200, ok.text
            assert await tracks() == ["First", "Second", "Fresh"]
            health = (await http.get("/health")).json()
            assert health["status"] == "ok" and health["poller"]["last_error"] is None
    finally:
        code = await bot.stop(signal.SIGTERM)
    assert code == 0
    log = bot.log()
    assert ADMIN_TOKEN not in log and DEFAULT_CLIENT_ID not in log
    assert "Traceback" not in log


async def test_soundcloud_down_is_reported_and_data_kept(fake: FakeSoundCloud,
                                                         tmp_path: Path) -> None:
    now = datetime.now(UTC)
    fake.set_likes([make_like(21, now - timedelta(hours=1), title="Kept")])
    bot = await NtrbotProcess(tmp_path, env_for(fake)).start()
    try:
        async with httpx.AsyncClient(base_url=bot.base_url, timeout=30) as http:
            async def titles() -> list[str]:
                return [t["title"] for t in (await http.get("/playlist")).json()["tracks"]]
            await wait_until(titles)
            fake.fail_next(50, status=500)
            resp = await http.post("/admin/refresh",
                                   headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert 400 <= resp.status_code < 500 and "error" in resp.json()
            health = (await http.get("/health")).json()
            assert health["poller"]["last_error"]
            assert await titles() == ["Kept"]
    finally:
        assert await bot.stop(signal.SIGINT) == 0


@pytest.mark.parametrize(("env", "name"), [
    ({}, "NTR_ADMIN_TOKEN"),
    ({"NTR_ADMIN_TOKEN": "x" * 16, "NTR_PORT": "http"}, "NTR_PORT"),
    ({"NTR_ADMIN_TOKEN": "x" * 16, "NTR_SHOW_TIMEZONE": "Nowhere/Land"}, "NTR_SHOW_TIMEZONE"),
    ({"NTR_ADMIN_TOKEN": "abcd1234"}, "NTR_ADMIN_TOKEN"),
])
def test_bad_config_exits_2_with_one_line(tmp_path: Path, env: dict[str, str],
                                          name: str) -> None:
    clean = {k: v for k, v in __import__("os").environ.items() if not k.startswith("NTR_")}
    proc = subprocess.run([sys.executable, "-m", "ntrbot"], env={**clean, **env},
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in proc.stderr
