"""Manual tracks over HTTP: added without SoundCloud, kept by polls, announced, exported."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from ntrbot import keys
from ntrbot.announcing.message import format_announce
from ntrbot.app import create_app
from ntrbot.irc.commands import track_text
from ntrbot.settings import DEFAULT_ANNOUNCE_FORMAT, Settings
from ntrbot.store.models import Show, ShowTrack, Track
from tests.support.constants import BEARER, SHOW_START
from tests.support.fake_soundcloud import FakeSoundCloud, make_like

RELAY_TOKEN = "relay-token-0123456789abcdef"
NOW = SHOW_START + timedelta(days=1)
JAM = {"title": "Live Jam", "artist": "The Guest", "url": "https://guest.bandcamp.com/jam"}


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any) -> Any:
    async with FakeSoundCloud() as fake:
        fake.set_likes([make_like(i, SHOW_START + timedelta(hours=i), title=f"Song {i}",
                                  artist="Rat") for i in (1, 2, 3)])
        settings = make_settings(soundcloud_api_base=fake.api_base,
                                 soundcloud_web_base=fake.web_base,
                                 relay_tokens=(RELAY_TOKEN,), web_user="host",
                                 web_password="pw-for-tests", secret_key="s" * 40,
                                 cookie_secure="false")
        app = create_app(settings, now=lambda: NOW, start_poller=False)
        client = await aiohttp_client(app)
        await app[keys.POLLER].poll_now()
        client.fake = fake
        yield client


async def show_id(client: Any) -> int:
    return int((await (await client.get("/playlist")).json())["id"])


async def add(client: Any, body: Any, headers: dict[str, str] | None = None) -> Any:
    sid = await show_id(client)
    return await client.post(f"/admin/shows/{sid}/tracks", json=body,
                             headers=BEARER if headers is None else headers)


def titles(show: dict[str, Any]) -> list[str]:
    return [t["title"] for t in show["tracks"]]


async def test_add_without_soundcloud(app_client: Any) -> None:
    app_client.fake.reset_requests()
    resp = await add(app_client, JAM)
    assert resp.status == 200, await resp.text()
    show = (await resp.json())["show"]
    assert titles(show) == ["Song 1", "Song 2", "Song 3", "Live Jam"]
    track = show["tracks"][3]
    assert track["position"] == 4 and track["artist"] == "The Guest"
    assert track["permalink_url"] == JAM["url"]
    assert track["id"] < 0  # never a SoundCloud id
    assert sum(app_client.fake.count(r) for r in ("resolve", "track")) == 0
    playlist = await (await app_client.get("/playlist")).json()
    assert playlist["tracks"][3] == track


async def test_without_url_and_ids_are_distinct(app_client: Any) -> None:
    first = (await (await add(app_client, {"title": "Jam A", "artist": "G"})).json())["show"]
    second = (await (await add(app_client, {"title": "Jam B", "artist": "G", "url": ""}))
              .json())["show"]
    a, b = first["tracks"][-1], second["tracks"][-1]
    assert a["permalink_url"] == "" and b["permalink_url"] == ""
    assert a["id"] < 0 and b["id"] < 0 and a["id"] != b["id"]


async def test_position_inserts_and_beyond_the_end_appends(app_client: Any) -> None:
    resp = await add(app_client, {**JAM, "position": 2})
    assert titles((await resp.json())["show"]) == ["Song 1", "Live Jam", "Song 2", "Song 3"]
    resp = await add(app_client, {"title": "Closer", "artist": "G", "position": 99})
    assert titles((await resp.json())["show"])[-1] == "Closer"


async def test_control_characters_are_stripped(app_client: Any) -> None:
    resp = await add(app_client, {"title": "Evil\r\nPRIVMSG #x :hi\x00", "artist": " A\tB "})
    track = (await resp.json())["show"]["tracks"][-1]
    assert track["title"] == "Evil PRIVMSG #x :hi" and track["artist"] == "A B"


async def test_soundcloud_url_alone_still_resolves(app_client: Any) -> None:
    fake = app_client.fake
    fake.reset_requests()
    resp = await add(app_client, {"url": f"{fake.web_base}/uploader-1/song-1"})
    assert resp.status == 409  # resolved to Song 1, already in the show
    assert fake.count("resolve") == 1


async def test_other_url_alone_says_how_to_add_by_hand(app_client: Any) -> None:
    resp = await add(app_client, {"url": JAM["url"]})
    assert resp.status == 422
    assert "by hand" in (await resp.json())["error"]


async def test_soundcloud_url_with_title_is_manual_when_soundcloud_is_down(
        app_client: Any) -> None:
    fake = app_client.fake
    fake.fail_next(50, status=503)
    url = f"{fake.web_base}/someone/not-resolvable"
    down = await add(app_client, {"url": url})
    assert down.status == 424
    resp = await add(app_client, {"title": "Fallback", "artist": "Someone", "url": url})
    assert resp.status == 200
    assert (await resp.json())["show"]["tracks"][-1]["permalink_url"] == url


@pytest.mark.parametrize(("body", "word"), [
    ({"title": "", "artist": "A"}, "title"),
    ({"title": "   \t", "artist": "A"}, "title"),
    ({"title": "\x00\x01", "artist": "A"}, "title"),
    ({"artist": "A"}, "title"),
    ({"title": 5, "artist": "A"}, "title"),
    ({"title": "x" * 300, "artist": "A"}, "title"),
    ({"title": "x" * 201, "artist": "A"}, "title"),
    ({"title": "T"}, "artist"),
    ({"title": "T", "artist": ""}, "artist"),
    ({"title": "T", "artist": "a" * 201}, "artist"),
    ({**JAM, "url": "javascript:alert(1)"}, "http:// or https:// URL"),
    ({**JAM, "url": "JavaScript:alert(1)//https://x"}, "http:// or https:// URL"),
    ({**JAM, "url": "data:text/html,<b>x</b>"}, "http:// or https:// URL"),
    ({**JAM, "url": "ftp://example.com/x"}, "http:// or https:// URL"),
    ({**JAM, "url": "/relative/path"}, "http:// or https:// URL"),
    ({**JAM, "url": "https://"}, "http:// or https:// URL"),
    ({**JAM, "url": "https://ex ample.com/"}, "http:// or https:// URL"),
    ({**JAM, "url": "https://example.com/\nx"}, "http:// or https:// URL"),
    ({**JAM, "url": "https://example.com:99999/"}, "http:// or https:// URL"),
    ({**JAM, "url": "https://example.com/" + "x" * 2000}, "2000 characters"),
    ({**JAM, "url": 7}, "url must be a string"),
    ({**JAM, "position": 0}, "position"),
    ({**JAM, "position": -1}, "position"),
    ({**JAM, "position": "2"}, "position"),
    ({**JAM, "position": 1.5}, "position"),
    ({**JAM, "position": True}, "position"),
])
async def test_bad_input_is_a_clear_422(app_client: Any, body: dict[str, Any],
                                        word: str) -> None:
    resp = await add(app_client, body)
    assert resp.status == 422, await resp.text()
    error = (await resp.json())["error"]
    assert word in error
    assert len(titles(await (await app_client.get("/playlist")).json())) == 3


async def test_a_long_title_is_fine_up_to_200(app_client: Any) -> None:
    resp = await add(app_client, {"title": "é" * 200, "artist": "A"})
    assert resp.status == 200


async def test_the_same_manual_track_twice_is_409(app_client: Any) -> None:
    assert (await add(app_client, JAM)).status == 200
    again = await add(app_client, JAM)
    assert again.status == 409 and "already" in (await again.json())["error"]


async def test_unknown_show_is_404(app_client: Any) -> None:
    resp = await app_client.post("/admin/shows/999/tracks", json=JAM, headers=BEARER)
    assert resp.status == 404 and (await resp.json())["error"]


async def test_auth_as_the_other_admin_routes(app_client: Any) -> None:
    assert (await add(app_client, JAM, headers={})).status == 401
    wrong = await add(app_client, JAM, headers={"Authorization": "Bearer nope-nope-nope-nope"})
    assert wrong.status == 401
    relay = await add(app_client, JAM, headers={"Authorization": f"Bearer {RELAY_TOKEN}"})
    assert relay.status == 403
    login = await app_client.post("/login", data={"username": "host",
                                                  "password": "pw-for-tests"},
                                  allow_redirects=False)
    assert login.status == 303
    origin = str(app_client.make_url("/")).rstrip("/")
    cross = await add(app_client, JAM, headers={"Origin": "https://evil.example"})
    assert cross.status == 403
    ok = await add(app_client, JAM, headers={"Origin": origin})
    assert ok.status == 200, await ok.text()
    assert len(titles(await (await app_client.get("/playlist")).json())) == 4


async def test_polls_keep_the_manual_track_and_its_position(app_client: Any) -> None:
    fake = app_client.fake
    added = (await (await add(app_client, {**JAM, "position": 2})).json())["show"]
    jam_id = added["tracks"][1]["id"]
    fake.add_like(make_like(4, SHOW_START + timedelta(hours=4), title="Song 4", artist="Rat"))
    poller = app_client.server.app[keys.POLLER]
    await poller.poll_now()
    show = await (await app_client.get("/playlist")).json()
    assert titles(show) == ["Song 1", "Live Jam", "Song 2", "Song 3", "Song 4"]
    fake.remove_like(3)  # un-liking in the current week drops liked tracks, never manual
    await poller.poll_now()
    await poller.poll_now()
    show = await (await app_client.get("/playlist")).json()
    assert titles(show) == ["Song 1", "Live Jam", "Song 2", "Song 4"]
    assert show["tracks"][1]["id"] == jam_id


async def test_announce_the_manual_track(app_client: Any) -> None:
    await add(app_client, {**JAM, "position": 1})
    await add(app_client, {"title": "No Link", "artist": "Guest"})
    sid = await show_id(app_client)
    resp = await app_client.post("/admin/announce", headers=BEARER,
                                 json={"show_id": sid, "position": 1})
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["message"] == \
        "Now Playing: Song #1: Live Jam by The Guest - https://guest.bandcamp.com/jam"
    resp = await app_client.post("/admin/announce", headers=BEARER,
                                 json={"show_id": sid, "position": 5})
    assert (await resp.json())["message"] == "Now Playing: Song #5: No Link by Guest"
    again = await app_client.post("/admin/announce", headers=BEARER,
                                  json={"show_id": sid, "position": 5})
    assert again.status == 409


def _st(url: str) -> tuple[Show, ShowTrack]:
    st = ShowTrack(3, Track(-4, "Jam", "Guest", url), NOW)
    return Show(1, SHOW_START, SHOW_START + timedelta(days=7), 12, [st]), st


@pytest.mark.parametrize(("template", "url", "line"), [
    (DEFAULT_ANNOUNCE_FORMAT, "", "Now Playing: Song #3: Jam by Guest"),
    (DEFAULT_ANNOUNCE_FORMAT, "https://x.example/j",
     "Now Playing: Song #3: Jam by Guest - https://x.example/j"),
    ("{title} | {permalink_url} (ep {episode}, id {id})", "", "Jam (ep 12, id -4)"),
    ("{title} -- {permalink_url!s:>5}", "", "Jam -"),
])
def test_announce_line_without_url(template: str, url: str, line: str) -> None:
    show, st = _st(url)
    assert format_announce(template, show, st) == line


def test_announce_line_is_cleaned_by_the_one_cleaner() -> None:
    """format_announce used its own cleaner (controls became spaces, colour numbers and bidi
    overrides stayed); now it is ntrbot.text.clean."""
    st = ShowTrack(3, Track(-4, "\x0304,12Red\x03 J\x00am\u202e\r\nQUIT", "Guest",
                            "https://x.example/j"), NOW)
    show = Show(1, SHOW_START, SHOW_START + timedelta(days=7), 12, [st])
    line = format_announce(DEFAULT_ANNOUNCE_FORMAT, show, st)
    assert line == "Now Playing: Song #3: Red Jam QUIT by Guest - https://x.example/j"


def test_irc_song_reply_without_url() -> None:
    assert track_text(_st("")[1]) == "Song #3: Jam by Guest"
    assert track_text(_st("https://x/j")[1]) == "Song #3: Jam by Guest - https://x/j"


async def test_setlists_and_public_page_contain_it(app_client: Any) -> None:
    await add(app_client, {**JAM, "position": 2})
    await add(app_client, {"title": "No <Link>", "artist": "Guest"})
    sid = await show_id(app_client)
    await app_client.post("/admin/announce", headers=BEARER, json={"show_id": sid, "position": 2})
    md = await (await app_client.get(f"/shows/{sid}/setlist.md")).text()
    assert "[Live Jam](https://guest.bandcamp.com/jam)" in md and "No &lt;Link&gt;" in md
    txt = await (await app_client.get(f"/shows/{sid}/setlist.txt")).text()
    assert "Live Jam by The Guest - https://guest.bandcamp.com/jam" in txt
    no_link = next(line for line in txt.splitlines() if "No <Link>" in line)
    assert no_link.endswith("No <Link> by Guest")
    rows = list(csv.reader(io.StringIO(await (await app_client.get(
        f"/shows/{sid}/setlist.csv")).text())))
    assert rows[1][4:7] == ["Live Jam", "The Guest", "https://guest.bandcamp.com/jam"]
    data = await (await app_client.get(f"/shows/{sid}/setlist.json")).json()
    jam = next(r for r in data["setlist"] if r["title"] == "Live Jam")
    assert jam["track_id"] < 0 and jam["announce_count"] == 1
    page = await (await app_client.get(f"/shows/{sid}", headers={"Accept": "text/html"})).text()
    assert 'href="https://guest.bandcamp.com/jam"' in page and "Live Jam" in page
    assert '<span class="title">No &lt;Link&gt;</span>' in page
    assert "The Guest" in page


@pytest.mark.parametrize("path", ["compat/sopel/ntr_playlist.py",
                                  "compat/limnoria/NtrPlaylist/ntrclient.py"])
def test_compat_song_reply_without_url(path: str) -> None:
    from pathlib import Path

    from tests.support.compat_plugins import ROOT, load_module

    pytest.importorskip("websocket")
    if "sopel" in path:
        pytest.importorskip("sopel")
    module = load_module(Path(ROOT, path), "manual_under_test_" + Path(path).stem)
    track = {"position": 3, "title": "Jam", "artist": "Guest", "permalink_url": ""}
    assert module.format_track(track) == "Song #3: Jam by Guest"
    assert module.format_track({**track, "permalink_url": "https://x/j"}) == \
        "Song #3: Jam by Guest - https://x/j"
