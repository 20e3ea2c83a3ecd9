"""A misbehaving SoundCloud: stored playlists survive, /health says why, the next poll recovers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_soundcloud import FakeSoundCloud, make_like
from tests.support.reliability import app_settings, fast_soundcloud, sample_likes, week_start

pytestmark = pytest.mark.timeout(60)

RETRIES = 1  # so each failing poll makes RETRIES + 1 attempts


def _500(fake: FakeSoundCloud) -> None:
    fake.fail_next(RETRIES + 1, status=500)


def _503_web_and_api(fake: FakeSoundCloud) -> None:
    fake.fail_next(RETRIES + 1, status=503, scope="any")


def _429(fake: FakeSoundCloud) -> None:
    fake.rate_limit_next(RETRIES + 1, retry_after="0")


def _429_http_date(fake: FakeSoundCloud) -> None:
    fake.rate_limit_next(RETRIES + 1, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")


def _timeout(fake: FakeSoundCloud) -> None:
    fake.hang_next(RETRIES + 1, seconds=5)


def _truncated(fake: FakeSoundCloud) -> None:
    fake.truncate_next(1, scope="/users/")


def _garbage(fake: FakeSoundCloud) -> None:
    fake.garbage_next(1, scope="/users/")


def _disconnect(fake: FakeSoundCloud) -> None:
    fake.disconnect_next(RETRIES + 1)


def _not_json_object(fake: FakeSoundCloud) -> None:
    fake.garbage_next(1, body=b'["not", "a", "page"]', scope="/users/")


def _empty_collection(fake: FakeSoundCloud) -> None:
    # A one-off empty page while the likes are still there (a SoundCloud hiccup).
    fake.garbage_next(1, body=b'{"collection": [], "next_href": null}', scope="/users/")


def _client_id_expired_and_page_down(fake: FakeSoundCloud) -> None:
    fake.rotate_client_id()
    fake.fail_next(RETRIES + 1, status=500, scope="web")


FAILING = {
    "http-500": _500,
    "http-503-everywhere": _503_web_and_api,
    "http-429-retry-after": _429,
    "http-429-retry-after-date": _429_http_date,
    "timeout": _timeout,
    "truncated-json": _truncated,
    "html-instead-of-json": _garbage,
    "json-not-a-page": _not_json_object,
    "connection-reset": _disconnect,
    "empty-collection-once": _empty_collection,
    "client-id-expired-no-new-one": _client_id_expired_and_page_down,
}


async def _started(make_inprocess: Callable[..., Any], tmp_path: Path,
                   fake: FakeSoundCloud) -> Any:
    fake.set_likes(sample_likes(5))
    bot = await make_inprocess(app_settings(tmp_path, fake))
    fast_soundcloud(bot.app, retries=RETRIES)
    status, body = await bot.refresh()
    assert status == 200, body
    assert await bot.titles() == [f"Track {i}" for i in range(1, 6)]
    return bot


@pytest.mark.parametrize("fault", list(FAILING), ids=list(FAILING))
async def test_failed_poll_keeps_playlists_and_reports_the_error(
        fault: str, fake: FakeSoundCloud, tmp_path: Path,
        make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    before = await bot.all_shows()
    # something new on SoundCloud that the failing poll must not half-store
    fake.add_like(make_like(999, week_start() + timedelta(hours=20), title="New one"))
    FAILING[fault](fake)
    status, body = await bot.refresh()
    assert 400 <= status < 500 and isinstance(body.get("error"), str) and body["error"], body
    health = await bot.health()
    assert health["status"] == "ok"
    assert health["poller"]["last_error"], health["poller"]
    assert await bot.all_shows() == before  # every stored playlist unchanged
    # the next good poll recovers
    fake.faults.clear()
    status, body = await bot.refresh()
    assert status == 200, body
    assert await bot.titles() == [f"Track {i}" for i in range(1, 6)] + ["New one"]
    assert (await bot.health())["poller"]["last_error"] is None


async def test_rate_limit_once_is_waited_out_within_the_poll(
        fake: FakeSoundCloud, tmp_path: Path, make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    fake.add_like(make_like(999, week_start() + timedelta(hours=20), title="New one"))
    fake.reset_requests()
    fake.rate_limit_next(1, retry_after="0")
    status, body = await bot.refresh()
    assert status == 200, body
    assert [r.status for r in fake.requests if r.route == "track_likes"] == [429, 200]
    assert (await bot.titles())[-1] == "New one"


async def test_expired_client_id_is_replaced_within_the_poll(
        fake: FakeSoundCloud, tmp_path: Path, make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    fake.add_like(make_like(999, week_start() + timedelta(hours=20), title="New one"))
    fake.rotate_client_id()
    fake.reset_requests()
    status, body = await bot.refresh()
    assert status == 200, body
    assert fake.count("page") >= 1  # scraped the web page again for the new id
    assert (await bot.titles())[-1] == "New one"
    assert (await bot.health())["poller"]["last_error"] is None


async def test_track_with_missing_fields(fake: FakeSoundCloud, tmp_path: Path,
                                         make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    at = week_start() + timedelta(hours=20)
    bare = make_like(801, at, omit=("title", "user", "publisher_metadata", "artwork_url",
                                    "duration", "license"))
    no_permalink = make_like(802, at + timedelta(minutes=1))
    del no_permalink["track"]["permalink_url"]
    no_track = make_like(803, at + timedelta(minutes=2))
    no_track["track"] = None
    no_date = make_like(804, at + timedelta(minutes=3))
    no_date["created_at"] = "yesterday-ish"
    good = make_like(805, at + timedelta(minutes=4), title="Still fine")
    for like in (bare, no_permalink, no_track, no_date, good):
        fake.add_like(like)
    status, body = await bot.refresh()
    assert status == 200, body
    resp = await bot.client.get("/playlist")
    tracks = (await resp.json())["tracks"]
    ids = [t["id"] for t in tracks]
    assert ids[:5] == [100, 101, 102, 103, 104]
    assert 805 in ids and 801 in ids  # usable ones stored
    assert not {802, 803} & set(ids)  # unusable ones skipped, nothing else lost
    bare_json = next(t for t in tracks if t["id"] == 801)
    assert bare_json["title"] and bare_json["artist"]  # placeholders, never null
    assert (await bot.health())["poller"]["last_error"] is None


async def test_empty_collection_when_the_host_really_unliked_everything_past_weeks_kept(
        fake: FakeSoundCloud, tmp_path: Path, make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    before = await bot.all_shows()
    fake.set_likes([])
    status, body = await bot.refresh()  # the first empty answer is not believed
    assert status == 424 and "no likes at all" in body["error"], body
    assert await bot.all_shows() == before
    status, body = await bot.refresh()  # the second one is
    assert status == 200, body
    after = await bot.all_shows()
    # finished weeks keep their playlist whatever SoundCloud says now
    assert [s for s in after if s["id"] != before[0]["id"]] == before[1:]


async def test_one_off_empty_collection_does_not_wipe_the_live_playlist(
        fake: FakeSoundCloud, tmp_path: Path, make_inprocess: Callable[..., Any]) -> None:
    bot = await _started(make_inprocess, tmp_path, fake)
    before = await bot.all_shows()
    _empty_collection(fake)
    status, body = await bot.refresh()
    assert status in (200, 424), body
    assert await bot.all_shows() == before
    status, body = await bot.refresh()
    assert status == 200, body
    assert await bot.all_shows() == before
