"""Show night and after: announcement history, setlist exports, edits and retraction over HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.settings import Settings
from tests.support.constants import BEARER, SHOW_START
from tests.support.fake_soundcloud import FakeSoundCloud, make_track
from tests.support.seed import seed_songs


class Clock:
    def __init__(self) -> None:
        self.now = SHOW_START + timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock_now() -> Clock:
    return Clock()


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any,
                     clock_now: Clock) -> Any:
    async with FakeSoundCloud() as fake:
        fake.extra_tracks.append(
            make_track(555, title="Added Later", artist="Guest", uploader="guest"))
        app = create_app(make_settings(soundcloud_api_base=fake.api_base,
                                       soundcloud_web_base=fake.web_base),
                         now=clock_now, start_poller=False)
        client = await aiohttp_client(app)
        await seed_songs(app)
        client.fake = fake
        yield client


async def current_id(client: Any) -> int:
    return int((await (await client.get("/playlist")).json())["id"])


async def announce(client: Any, show_id: int, position: int, force: bool = False) -> Any:
    return await client.post("/admin/announce", headers=BEARER,
                             json={"show_id": show_id, "position": position, "force": force})


async def test_history_and_setlists(app_client: Any, clock_now: Clock) -> None:
    sid = await current_id(app_client)
    assert (await announce(app_client, sid, 2)).status == 200
    clock_now.now += timedelta(minutes=7, seconds=30)
    assert (await announce(app_client, sid, 1)).status == 200
    clock_now.now += timedelta(minutes=1)
    assert (await announce(app_client, sid, 2, force=True)).status == 200

    hist = await (await app_client.get(f"/shows/{sid}/announcements")).json()
    assert [a["position"] for a in hist["announcements"]] == [2, 1, 2]
    assert hist["announcements"][0]["offset"] == "+0:05:00"
    by_pos = {t["position"]: t for t in hist["tracks"]}
    assert by_pos[2]["announce_count"] == 2 and by_pos[1]["announce_count"] == 1

    body = json.loads(await (await app_client.get(f"/shows/{sid}/setlist.json")).text())
    order = [(r["position"], r["offset"]) for r in body["setlist"]]
    assert order == [(2, "+0:05:00"), (1, "+0:12:30"), (3, None)]
    assert body["setlist"][0]["first_announced_at"].endswith("-04:00")  # show-local time

    resp = await app_client.get(f"/shows/{sid}/setlist.csv")
    assert resp.content_type == "text/csv"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["title"] for r in rows] == ["Song 2", "Song 1", "Song 3"]
    assert rows[0]["offset"] == "+0:05:00" and rows[2]["announced_at"] == ""
    assert rows[0]["license"] == "cc-by" and rows[0]["url"].startswith("https://")

    md = await (await app_client.get(f"/shows/{sid}/setlist.md")).text()
    lines = [ln for ln in md.splitlines() if ln.startswith("| ") and "Song" in ln]
    assert "[Song 2](https://soundcloud.com/a/s2)" in lines[0] and "22:05:00" in lines[0]
    assert "not announced" in lines[2]

    txt = await (await app_client.get(f"/shows/{sid}/setlist.txt")).text()
    assert txt.splitlines()[2].startswith(" 1. 22:05:00 (+0:05:00)  Song 2 by Artist 2")

    assert (await app_client.get(f"/shows/{sid}/setlist.pdf")).status == 404
    assert (await app_client.get("/shows/999/setlist.md")).status == 404


async def test_setlist_offset_across_dst(app_client: Any, clock_now: Clock) -> None:
    # The previous show started 2026-03-04 22:00 EST, before the DST change on 03-08.
    shows = await (await app_client.get("/shows")).json()
    prev = shows["shows"][1]
    clock_now.now = datetime(2026, 3, 5, 3, 30, tzinfo=UTC)  # 22:30 EST
    assert (await announce(app_client, prev["id"], 1)).status == 200
    body = json.loads(await (await app_client.get(f"/shows/{prev['id']}/setlist.json")).text())
    first = body["setlist"][0]
    assert first["offset"] == "+0:30:00" and first["first_announced_at"].endswith("-05:00")


async def test_edit_routes(app_client: Any) -> None:
    sid = await current_id(app_client)
    fake = app_client.fake
    url = f"{fake.web_base}/guest/added-later"
    resp = await app_client.post(f"/admin/shows/{sid}/tracks", headers=BEARER,
                                 json={"url": url, "position": 1})
    assert resp.status == 200, await resp.text()
    titles = [t["title"] for t in (await resp.json())["show"]["tracks"]]
    assert titles == ["Added Later", "Song 1", "Song 2", "Song 3"]
    again = await app_client.post(f"/admin/shows/{sid}/tracks", headers=BEARER, json={"url": url})
    assert again.status == 409

    moved = await app_client.patch(f"/admin/shows/{sid}/tracks/1", headers=BEARER, json={"to": 4})
    assert [t["title"] for t in (await moved.json())["show"]["tracks"]][-1] == "Added Later"
    removed = await app_client.delete(f"/admin/shows/{sid}/tracks/1", headers=BEARER)
    assert [t["title"] for t in (await removed.json())["show"]["tracks"]] == [
        "Song 2", "Song 3", "Added Later"]
    ep = await app_client.patch(f"/admin/shows/{sid}", headers=BEARER, json={"episode": 300})
    assert (await ep.json())["show"]["episode"] == 300


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "/admin/shows/{sid}/tracks", {"url": "https://evil.example/x"}, 422),
    ("post", "/admin/shows/{sid}/tracks", {"url": 5}, 422),
    ("post", "/admin/shows/{sid}/tracks", {"url": "https://soundcloud.com/x", "position": "1"},
     422),
    ("post", "/admin/shows/{sid}/tracks", [1], 400),
    ("post", "/admin/shows/999/tracks", {"url": "https://soundcloud.com/x"}, 404),
    ("patch", "/admin/shows/{sid}/tracks/1", {"to": True}, 422),
    ("patch", "/admin/shows/{sid}/tracks/1", {"to": 99}, 404),
    ("patch", "/admin/shows/{sid}/tracks/x", {"to": 1}, 400),
    ("delete", "/admin/shows/{sid}/tracks/9", None, 404),
    ("patch", "/admin/shows/{sid}", {"episode": -1}, 422),
    ("patch", "/admin/shows/{sid}", "not json", 400),
    ("delete", "/admin/announcements/12345", None, 404),
])
async def test_edit_errors(app_client: Any, method: str, path: str, body: Any,
                           status: int) -> None:
    sid = await current_id(app_client)
    kwargs: dict[str, Any] = {"headers": BEARER}
    if isinstance(body, str):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    resp = await getattr(app_client, method)(path.format(sid=sid), **kwargs)
    assert resp.status == status
    assert (await resp.json())["error"]


async def test_edits_need_auth(app_client: Any) -> None:
    sid = await current_id(app_client)
    assert (await app_client.delete(f"/admin/shows/{sid}/tracks/1")).status == 401
    assert (await app_client.patch(f"/admin/shows/{sid}", json={"episode": 1})).status == 401


async def test_retract_within_window(app_client: Any, clock_now: Clock) -> None:
    sid = await current_id(app_client)
    first = await (await announce(app_client, sid, 1)).json()
    resp = await app_client.delete(f"/admin/announcements/{first['announcement_id']}",
                                   headers=BEARER)
    assert resp.status == 200 and "cannot be unsent" in (await resp.json())["note"]
    hist = await (await app_client.get(f"/shows/{sid}/announcements")).json()
    assert hist["announcements"] == []
    # Retracted means it can be announced again without force.
    second = await (await announce(app_client, sid, 1)).json()
    clock_now.now += timedelta(minutes=6)
    late = await app_client.delete(f"/admin/announcements/{second['announcement_id']}",
                                   headers=BEARER)
    assert late.status == 409
    app = app_client.server.app
    assert (await app[keys.DB].announcements.last_announcement()) is not None


async def test_nowplaying_route(app_client: Any, clock_now: Clock) -> None:
    missing = await app_client.get("/nowplaying")
    assert missing.status == 404 and (await missing.json())["error"]
    sid = await current_id(app_client)
    await announce(app_client, sid, 3)
    clock_now.now += timedelta(minutes=1)
    await announce(app_client, sid, 1)
    body = await (await app_client.get("/nowplaying")).json()
    assert body["position"] == 1 and body["track"]["title"] == "Song 1"
    assert body["message"] == ("Now Playing: Song #1: Song 1 by Artist 1 - "
                               "https://soundcloud.com/a/s1")
