"""The public page's now-playing artwork: the 500×500 SoundCloud variant, lazy, CSP-scoped."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ntrbot import keys
from ntrbot.app import create_app
from ntrbot.http.public import ARTWORK_HOSTS, artwork_500
from ntrbot.settings import Settings
from ntrbot.store.models import Track
from tests.support.constants import BEARER, SECRET_KEY, WEB_PASSWORD, WEB_USER

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
START = datetime(2026, 3, 12, 2, 0, tzinfo=UTC)  # Wed 22:00 EDT
ART = "https://i1.sndcdn.com/artworks-000123456789-abcdef-large.jpg"


@pytest.mark.parametrize(("url", "want"), [
    (ART, "https://i1.sndcdn.com/artworks-000123456789-abcdef-t500x500.jpg"),
    ("https://i3.sndcdn.com/artworks-x-t300x300.png", "https://i3.sndcdn.com/artworks-x-t500x500.png"),
    ("https://i1.sndcdn.com/avatars-000111-zz-large.jpg",
     "https://i1.sndcdn.com/avatars-000111-zz-t500x500.jpg"),
    ("https://i2.sndcdn.com/artworks-y-t67x67.jpg?v=2", "https://i2.sndcdn.com/artworks-y-t500x500.jpg?v=2"),
    ("https://i1.sndcdn.com/artworks-y-crop.jpg", "https://i1.sndcdn.com/artworks-y-t500x500.jpg"),
    ("https://i1.sndcdn.com/artworks-y-t500x500.jpg", "https://i1.sndcdn.com/artworks-y-t500x500.jpg"),
    ("https://i1.sndcdn.com/artworks-y.jpg", "https://i1.sndcdn.com/artworks-y.jpg"),  # as is
    ("http://i1.sndcdn.com/artworks-y-large.jpg", None),       # not https
    ("https://evil.example/artworks-y-large.jpg", None),       # not SoundCloud's artwork host
    ("https://i1.sndcdn.com.evil.example/a-large.jpg", None),
    ("https://x@i1.sndcdn.com/a-large.jpg", None),
    ("https://i1.sndcdn.com/a\"onerror=\"x-large.jpg", None),
    ("", None), (None, None),
])
def test_artwork_500(url: str | None, want: str | None) -> None:
    assert artwork_500(url) == want
    if want is not None:
        assert want.split("/")[2] in ARTWORK_HOSTS


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any) -> Any:
    now = START + timedelta(minutes=10)
    app = create_app(make_settings(web_user=WEB_USER, web_password=WEB_PASSWORD,
                                   secret_key=SECRET_KEY, cookie_secure="false"),
                     now=lambda: now, start_poller=False)
    client = await aiohttp_client(app)
    tracks = [Track(1, "With Art", "A", "https://soundcloud.com/a/1", ART),
              Track(2, "No Art", "B", "https://soundcloud.com/b/2", None),
              Track(3, "Elsewhere", "C", "https://soundcloud.com/c/3",
                    "https://evil.example/art-large.jpg")]
    clock = app[keys.CLOCK]
    week = clock.week_of(now)
    await app[keys.DB].save_playlists(tracks, {week: [
        (t.id, START + timedelta(minutes=i), "like") for i, t in enumerate(tracks, 1)]})
    client.show_id = (await (await client.get("/playlist")).json())["id"]
    return client


async def announce(client: Any, position: int) -> None:
    r = await client.post("/admin/announce", headers=BEARER,
                          json={"show_id": client.show_id, "position": position, "force": True})
    assert r.status == 200, await r.text()


def img_src(html: str) -> list[str]:
    return re.findall(r'<img[^>]*id="now-art-img"[^>]*>', html)


async def test_the_on_air_track_has_its_500_artwork_lazy(app_client: Any) -> None:
    await announce(app_client, 1)
    html = await (await app_client.get("/", headers=BROWSER)).text()
    [img] = img_src(html)
    assert 'src="https://i1.sndcdn.com/artworks-000123456789-abcdef-t500x500.jpg"' in img
    assert 'loading="lazy"' in img and 'width="500"' in img and 'height="500"' in img
    assert 'alt=""' in img and "hidden" not in img
    assert 'id="now-art" class="now-art" data-art="image"' in html


@pytest.mark.parametrize("position", [2, 3])
async def test_no_usable_artwork_is_a_placeholder(app_client: Any, position: int) -> None:
    await announce(app_client, position)
    html = await (await app_client.get("/", headers=BROWSER)).text()
    [img] = img_src(html)
    assert "src=" not in img and " hidden" in img
    assert 'data-art="placeholder"' in html
    assert "evil.example" not in html.split('id="now-art"')[1].split("</div>")[0]


async def test_csp_allows_soundcloud_artwork_on_the_public_page_only(app_client: Any) -> None:
    def img_src_of(csp: str) -> list[str]:
        [directive] = [d.strip() for d in csp.split(";") if d.strip().startswith("img-src")]
        return directive.split()[1:]

    public = (await app_client.get("/", headers=BROWSER)).headers["Content-Security-Policy"]
    sources = img_src_of(public)
    assert "'self'" in sources and "https://i1.sndcdn.com" in sources
    assert all(s in ("'self'", "data:") or s in {f"https://{h}" for h in ARTWORK_HOSTS}
               for s in sources), sources
    assert "*" not in " ".join(sources)
    page = await app_client.get(f"/shows/{app_client.show_id}", headers=BROWSER)
    assert "https://i1.sndcdn.com" in img_src_of(page.headers["Content-Security-Policy"])
    # everything else keeps the strict policy: dashboard, login, JSON, errors
    for path in ("/login", "/playlist", "/nope", "/public/public.js"):
        resp = await app_client.get(path, headers=BROWSER)
        assert "sndcdn" not in resp.headers.get("Content-Security-Policy", ""), path
    # and the rest of the public page's policy is the strict one
    strict = (await app_client.get("/login")).headers["Content-Security-Policy"]
    assert [d for d in public.split(";") if "img-src" not in d] == [
        d for d in strict.split(";") if "img-src" not in d]
