"""The fake SoundCloud itself: realistic shapes, auth, faults, and its command line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ntrbot.soundcloud.client import SoundCloudClient
from tests.support.fake_soundcloud import FakeSoundCloud, make_like

UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    likes = [make_like(i, f"2026-03-{i:02d}T12:00:00Z") for i in range(1, 8)]
    async with FakeSoundCloud(likes=likes) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5, headers=UA) as client:
        yield client


async def test_page_links_several_bundles_and_only_one_holds_the_id(
        fake: FakeSoundCloud, http: httpx.AsyncClient) -> None:
    page = (await http.get(fake.web_base + "/")).text
    srcs = re.findall(r'<script[^>]*src="([^"]+/assets/[^"]+\.js)"', page)
    assert len(srcs) >= 3
    bodies = [(await http.get(src)).text for src in srcs]
    assert sum(fake.client_id in body for body in bodies) == 1
    old_bundle = next(src for src, body in zip(srcs, bodies, strict=True)
                      if fake.client_id in body)
    fake.rotate_client_id()
    assert (await http.get(old_bundle)).status_code == 404


@pytest.mark.parametrize("client_id", [None, "", "WrongWrongWrongWrongWrongWrong12"])
async def test_api_needs_the_current_client_id(fake: FakeSoundCloud, http: httpx.AsyncClient,
                                               client_id: str | None) -> None:
    params = {} if client_id is None else {"client_id": client_id}
    resp = await http.get(f"{fake.api_base}/users/{fake.user_id}/track_likes", params=params)
    assert resp.status_code == 401 and resp.json()["code"] == 401


@pytest.mark.parametrize("agent", ["python-httpx/0.28.1", "curl/8.5.0", ""])
async def test_bot_agents_are_refused(fake: FakeSoundCloud, agent: str) -> None:
    async with httpx.AsyncClient(headers={"User-Agent": agent}) as client:
        assert (await client.get(fake.web_base + "/")).status_code == 403


async def test_cursor_is_opaque_and_pages_are_newest_first(fake: FakeSoundCloud,
                                                           http: httpx.AsyncClient) -> None:
    url = f"{fake.api_base}/users/{fake.user_id}/track_likes?limit=3&linked_partitioning=1"
    seen: list[str] = []
    while url:
        full = httpx.URL(url).copy_set_param("client_id", fake.client_id)
        body = (await http.get(full)).json()
        seen += [item["created_at"] for item in body["collection"]]
        url = body["next_href"]
        if url:
            assert "client_id" not in url and not re.search(r"offset=\d+(&|$)", url)
    assert seen == sorted(seen, reverse=True) and len(seen) == 7
    bad = await http.get(f"{fake.api_base}/users/{fake.user_id}/track_likes",
                         params={"client_id": fake.client_id, "offset": "%%%"})
    assert bad.status_code == 400


async def test_faults_are_consumed_in_order_and_counted(fake: FakeSoundCloud,
                                                        http: httpx.AsyncClient) -> None:
    fake.fail_next(1, status=502)
    fake.rate_limit_next(retry_after="3")
    url = f"{fake.api_base}/tracks/1"
    params = {"client_id": fake.client_id}
    first, second, third = [await http.get(url, params=params) for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (502, 429, 200)
    assert second.headers["Retry-After"] == "3" and third.json()["id"] == 1
    assert fake.count("track") == 3 and not fake.faults


async def run_cli(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, object]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.fake_soundcloud", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 20)
    return proc, json.loads(line)


async def test_cli_serves_a_likes_file_and_reloads_it(tmp_path: Path,
                                                      http: httpx.AsyncClient) -> None:
    likes_file = tmp_path / "likes.json"
    likes_file.write_text(json.dumps([
        {"track_id": 1, "liked_at": "2026-03-01T12:00:00Z", "title": "One", "artist": "A"},
        make_like(2, "2026-03-02T12:00:00Z", title="Two"),
    ]))
    proc, info = await run_cli("--port", "0", "--likes", str(likes_file))
    try:
        assert info["api_base"] == info["web_base"] == info["base_url"]
        sc = SoundCloudClient(http, api_base=str(info["api_base"]),
                              web_base=str(info["web_base"]))
        user_id = await sc.resolve_user("nicktherat")
        titles = [like.track.title async for page in sc.iter_like_pages(user_id)
                  for like in page]
        assert titles == ["Two", "One"]
        likes_file.write_text(json.dumps([{"track_id": 3, "liked_at": "2026-03-03T12:00:00Z"}]))
        os.utime(likes_file, (1, 1))
        titles = [like.track.title async for page in sc.iter_like_pages(user_id)
                  for like in page]
        assert titles == ["Track 3"]
        await http.post(f"{info['base_url']}/_fake/fault", json={"kind": "status", "count": 1})
        state = (await http.get(f"{info['base_url']}/_fake/state")).json()
        assert state["faults"] == 1 and state["counts"]["track_likes"] == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


def test_cli_rejects_a_bad_likes_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = subprocess.run([sys.executable, "-m", "tests.support.fake_soundcloud", "--likes",
                           str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].count("--likes") == 1
