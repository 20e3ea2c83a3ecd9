"""Public JSON routes: shapes from the SPEC, strict parameters, JSON errors, no 5xx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from ntrbot.app import create_app
from ntrbot.settings import Settings
from tests.support.constants import ADMIN_TOKEN, SHOW_START
from tests.support.seed import seed_songs

TRACK_FIELDS = {"position", "id", "title", "artist", "permalink_url", "artwork_url",
                "duration_ms", "license", "liked_at"}


@pytest.fixture
async def client(make_settings: Callable[..., Settings], aiohttp_client: Any, now: Any) -> Any:
    app = create_app(make_settings(), now=now, start_poller=False)
    c = await aiohttp_client(app)
    await seed_songs(app)
    return c


async def test_playlist_is_the_current_show(client: Any) -> None:
    resp = await client.get("/playlist")
    assert resp.status == 200
    body = await resp.json()
    assert set(body) >= {"id", "week_start", "week_end", "episode", "tracks"}
    assert body["week_start"] == "2026-03-11T22:00:00-04:00"
    assert body["week_end"] == "2026-03-18T22:00:00-04:00"
    assert [t["position"] for t in body["tracks"]] == [1, 2, 3]
    first = body["tracks"][0]
    assert set(first) >= TRACK_FIELDS
    assert first["title"] == "Song 1" and first["duration_ms"] == 1000
    assert datetime.fromisoformat(first["liked_at"]) == SHOW_START + timedelta(hours=1)


async def test_playlist_position(client: Any) -> None:
    body = await (await client.get("/playlist/2")).json()
    assert body["title"] == "Song 2" and body["position"] == 2


@pytest.mark.parametrize(("path", "status"), [
    ("/playlist/0", 400), ("/playlist/4", 404), ("/playlist/-1", 400), ("/playlist/abc", 400),
    ("/playlist/1.5", 400), ("/playlist/99999999999999999999", 400),
    ("/shows/0", 400), ("/shows/999", 404), ("/shows/x", 400),
    ("/shows?limit=0", 400), ("/shows?limit=101", 400), ("/shows?limit=a", 400),
    ("/shows?offset=-3", 400), ("/nope", 404), ("/admin/refresh", 405),
])
async def test_bad_requests_get_json_4xx(client: Any, path: str, status: int) -> None:
    resp = await client.get(path)
    assert resp.status == status
    body = await resp.json()
    assert isinstance(body["error"], str) and body["error"]


async def test_shows_newest_first_with_paging(client: Any) -> None:
    body = await (await client.get("/shows")).json()
    assert body["total"] == 2
    assert [s["week_start"][:10] for s in body["shows"]] == ["2026-03-11", "2026-03-04"]
    assert "tracks" not in body["shows"][0]
    page = await (await client.get("/shows?limit=1&offset=1")).json()
    assert len(page["shows"]) == 1 and page["shows"][0]["week_start"][:10] == "2026-03-04"
    one = await (await client.get(f"/shows/{page['shows'][0]['id']}")).json()
    assert [t["title"] for t in one["tracks"]] == ["Song 4", "Song 5"]


async def test_health(client: Any) -> None:
    body = await (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert {"irc", "poller", "subscribers"} <= set(body)
    assert {"last_success", "last_error", "next_poll"} <= set(body["poller"])


async def test_refresh_needs_the_token(client: Any) -> None:
    assert (await client.post("/admin/refresh")).status == 401
    wrong = await client.post("/admin/refresh", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    assert ADMIN_TOKEN not in await wrong.text()


async def test_current_show_exists_before_first_poll(make_settings: Any, aiohttp_client: Any,
                                                     now: Any) -> None:
    client = await aiohttp_client(create_app(make_settings(), now=now, start_poller=False))
    body = await (await client.get("/playlist")).json()
    assert body["tracks"] == [] and body["week_start"] == "2026-03-11T22:00:00-04:00"
