"""SoundCloudClient against the local fake api-v2 over real loopback HTTP."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntrbot.soundcloud.client import SoundCloudClient
from ntrbot.soundcloud.errors import SoundCloudError, SoundCloudNotFound
from ntrbot.soundcloud.parse import parse_like, parse_time
from ntrbot.store.models import Like
from tests.support.fake_soundcloud import (
    DECOY_CLIENT_ID,
    FakeSoundCloud,
    broken_like,
    make_like,
)

T0 = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)


def likes(n: int, start: int = 1) -> list[dict[str, Any]]:
    """n likes, track ids start.., one hour apart, the highest id newest."""
    return [make_like(i, T0 + timedelta(hours=i)) for i in range(start, start + n)]


class Sleeps(list[float]):
    """Injected sleep: records the delays, never waits."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSoundCloud]:
    async with FakeSoundCloud(likes=likes(3)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.5)) as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def sc(fake: FakeSoundCloud, http: httpx.AsyncClient, sleeps: Sleeps) -> SoundCloudClient:
    return SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base, sleep=sleeps)


async def all_likes(sc: SoundCloudClient, user_id: int, page_size: int = 200) -> list[Like]:
    return [like async for page in sc.iter_like_pages(user_id, page_size) for like in page]


async def one_track(sc: SoundCloudClient, fake: FakeSoundCloud, like: dict[str, Any]) -> Like:
    fake.set_likes([like])
    (got,) = await all_likes(sc, fake.user_id)
    return got


# --- client_id -----------------------------------------------------------------

async def test_scrapes_client_id_last_bundle_first_and_caches_it(sc: SoundCloudClient,
                                                                 fake: FakeSoundCloud) -> None:
    assert await sc.resolve_user("nicktherat") == fake.user_id
    assert await sc.client_id() == fake.client_id != DECOY_CLIENT_ID
    assets = [r.path for r in fake.requests if r.route == "asset"]
    assert assets[0].startswith("/assets/49-") and assets[1].startswith("/assets/app-")
    assert len(assets) == 2  # stopped at the bundle holding the id
    await sc.resolve_user("nicktherat")
    await all_likes(sc, fake.user_id)
    assert fake.count("page") == 1 and fake.count("asset") == 2 and sc.scrapes == 1


async def test_configured_client_id_is_used_without_scraping(fake: FakeSoundCloud,
                                                             http: httpx.AsyncClient,
                                                             sleeps: Sleeps) -> None:
    sc = SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base,
                          client_id=fake.client_id, sleep=sleeps)
    await sc.resolve_user("nicktherat")
    assert fake.count("page") == 0 and fake.count("asset") == 0
    assert sc.requests_made == 1


async def test_concurrent_calls_scrape_once(sc: SoundCloudClient, fake: FakeSoundCloud) -> None:
    ids = await asyncio.gather(*(sc.resolve_user("nicktherat") for _ in range(5)))
    assert set(ids) == {fake.user_id}
    assert fake.count("page") == 1


async def test_rotated_client_id_is_rescraped_once_and_request_retried(
        sc: SoundCloudClient, fake: FakeSoundCloud) -> None:
    await sc.resolve_user("nicktherat")
    old = fake.client_id
    new = fake.rotate_client_id()
    assert [like.track.id for like in await all_likes(sc, fake.user_id)] == [3, 2, 1]
    assert await sc.client_id() == new != old
    assert fake.count("page") == 2
    assert [r.status for r in fake.requests if r.route == "track_likes"] == [401, 200]


async def test_rejected_configured_client_id_falls_back_to_scrape(fake: FakeSoundCloud,
                                                                  http: httpx.AsyncClient,
                                                                  sleeps: Sleeps) -> None:
    sc = SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base,
                          client_id="x" * 32, sleep=sleeps)
    assert await sc.resolve_user("nicktherat") == fake.user_id
    assert fake.count("page") == 1


async def test_persistent_401_rescrapes_only_once(sc: SoundCloudClient,
                                                  fake: FakeSoundCloud) -> None:
    await sc.resolve_user("nicktherat")
    fake.fail_next(5, status=401)
    with pytest.raises(SoundCloudError, match="HTTP 401") as err:
        await sc.resolve_user("nicktherat")
    assert err.value.status == 401
    assert fake.count("page") == 2  # first scrape + exactly one re-scrape
    assert fake.client_id not in str(err.value)


async def test_403_rescrapes_once_then_backs_off(sc: SoundCloudClient, fake: FakeSoundCloud,
                                                 sleeps: Sleeps) -> None:
    await sc.resolve_user("nicktherat")
    fake.fail_next(3, status=403)
    assert await sc.resolve_user("nicktherat") == fake.user_id
    assert fake.count("page") == 2
    assert sleeps == [1.0, 2.0, 4.0]  # same id after the re-scrape: anti-bot, back off


async def test_bot_user_agent_is_blocked_and_browser_agent_is_not(fake: FakeSoundCloud,
                                                                  http: httpx.AsyncClient,
                                                                  sleeps: Sleeps) -> None:
    bot = SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base,
                           user_agent="python-httpx/0.28", sleep=sleeps)
    with pytest.raises(SoundCloudError, match="client id scrape: web page answered HTTP 403"):
        await bot.resolve_user("nicktherat")
    assert all("Mozilla/5.0" not in r.user_agent for r in fake.requests)


async def test_scrape_falls_back_to_earlier_bundles(sc: SoundCloudClient,
                                                    fake: FakeSoundCloud) -> None:
    fake.client_id = "short"  # the app bundle no longer holds a 32-character id
    with pytest.raises(SoundCloudError, match=r"HTTP 401 \(client id rejected"):
        await sc.resolve_user("nicktherat")
    assert sc.scrapes == 2 and fake.count("asset") == 8  # found only the stale decoy, twice


async def test_scrape_with_no_usable_bundle_is_an_error(sc: SoundCloudClient,
                                                        fake: FakeSoundCloud) -> None:
    fake.fail_next(4, status=404, scope="/assets/")
    with pytest.raises(SoundCloudError, match="client id scrape failed: a script bundle answ"):
        await sc.resolve_user("nicktherat")
    assert fake.count("resolve") == 0


# --- paging ----------------------------------------------------------------------

@pytest.mark.parametrize(("total", "page_size", "sizes"), [
    (450, 200, [200, 200, 50]),
    (450, 1000, [200, 200, 50]),  # 200 is the largest page
    (5, 2, [2, 2, 1]),
    (4, 2, [2, 2]),
    (0, 200, [0]),
])
async def test_pages_follow_next_href_newest_first(sc: SoundCloudClient, fake: FakeSoundCloud,
                                                   total: int, page_size: int,
                                                   sizes: list[int]) -> None:
    fake.set_likes(likes(total))
    pages = [page async for page in sc.iter_like_pages(fake.user_id, page_size)]
    assert [len(p) for p in pages] == sizes
    got = [like for page in pages for like in page]
    assert [like.track.id for like in got] == list(range(total, 0, -1))
    assert all(a.liked_at > b.liked_at for a, b in itertools.pairwise(got))
    calls = [r for r in fake.requests if r.route == "track_likes"]
    assert len(calls) == len(sizes)
    assert all(r.query["client_id"] == fake.client_id for r in calls)
    assert "offset" not in calls[0].query and all("offset" in r.query for r in calls[1:])


async def test_next_href_is_given_without_client_id(fake: FakeSoundCloud, http: httpx.AsyncClient,
                                                    sc: SoundCloudClient) -> None:
    fake.set_likes(likes(3))
    cid = await sc.client_id()
    raw = (await http.get(f"{fake.api_base}/users/{fake.user_id}/track_likes",
                          params={"limit": 2, "linked_partitioning": 1, "client_id": cid},
                          headers={"User-Agent": "Mozilla/5.0"})).json()
    assert raw["next_href"].startswith(fake.api_base) and "client_id" not in raw["next_href"]


async def test_early_stop_makes_no_further_requests(sc: SoundCloudClient,
                                                    fake: FakeSoundCloud) -> None:
    fake.set_likes(likes(10))
    await sc.client_id()
    before = sc.requests_made
    pages = sc.iter_like_pages(fake.user_id, page_size=3)
    async for page in pages:
        assert len(page) == 3
        break
    # the pages are an async generator (AsyncIterator declares no aclose)
    await cast(AsyncGenerator[list[Like], None], pages).aclose()
    await asyncio.sleep(0)
    assert sc.requests_made == before + 1
    assert fake.count("track_likes") == 1


async def test_failure_on_a_later_page_raises_after_earlier_pages(sc: SoundCloudClient,
                                                                  fake: FakeSoundCloud) -> None:
    fake.set_likes(likes(5))
    seen: list[int] = []
    with pytest.raises(SoundCloudError, match="likes page 2: the answer is not valid JSON"):
        async for page in sc.iter_like_pages(fake.user_id, page_size=2):
            seen.append(len(page))
            fake.truncate_next()
    assert seen == [2]


async def test_unknown_user(sc: SoundCloudClient) -> None:
    with pytest.raises(SoundCloudNotFound, match="no SoundCloud user 'nobody-here'"):
        await sc.resolve_user("nobody-here")


# --- track fields ------------------------------------------------------------------

@pytest.mark.parametrize(("kw", "expected"), [
    ({"artist": "Publisher Artist"}, "Publisher Artist"),
    ({"artist": "  Spaced Out \n"}, "Spaced Out"),
    ({"artist": ""}, "The Uploader"),
    ({"artist": "   "}, "The Uploader"),
    ({}, "The Uploader"),  # publisher_metadata without an artist
    ({"publisher_metadata": None}, "The Uploader"),
    ({"omit": ["publisher_metadata"]}, "The Uploader"),
    ({"publisher_metadata": {"artist": 42}}, "The Uploader"),
])
async def test_artist_rule(sc: SoundCloudClient, fake: FakeSoundCloud, kw: dict[str, Any],
                           expected: str) -> None:
    got = await one_track(sc, fake, make_like(7, T0, uploader="The Uploader", **kw))
    assert got.track.artist == expected


@pytest.mark.parametrize(("kw", "expected"), [
    ({"artwork_url": "https://i1.sndcdn.com/art-large.jpg"}, "https://i1.sndcdn.com/art-large.jpg"),
    ({"artwork_url": None, "avatar_url": "https://i1.sndcdn.com/av.jpg"},
     "https://i1.sndcdn.com/av.jpg"),
    ({"omit": ["artwork_url"], "avatar_url": "https://i1.sndcdn.com/av.jpg"},
     "https://i1.sndcdn.com/av.jpg"),
    ({"artwork_url": None, "avatar_url": None}, None),
])
async def test_artwork_falls_back_to_avatar(sc: SoundCloudClient, fake: FakeSoundCloud,
                                            kw: dict[str, Any], expected: str | None) -> None:
    got = await one_track(sc, fake, make_like(7, T0, **kw))
    assert got.track.artwork_url == expected


async def test_track_fields_and_missing_optionals(sc: SoundCloudClient,
                                                  fake: FakeSoundCloud) -> None:
    full = await one_track(sc, fake, make_like(7, T0, title="Song", uploader="U",
                                               duration_ms=201_500, license="cc-by-nc-sa"))
    assert full.track.title == "Song" and full.track.duration_ms == 201_500
    assert full.track.license == "cc-by-nc-sa" and full.track.permalink_url.endswith("/u/song")
    assert full.liked_at == T0 and full.liked_at.tzinfo is not None
    bare = await one_track(sc, fake, make_like(8, T0, avatar_url=None, omit=[
        "duration", "license", "artwork_url", "title", "user", "publisher_metadata"]))
    t = bare.track
    assert (t.duration_ms, t.license, t.artwork_url) == (None, None, None)
    assert t.title == "(untitled)" and t.artist == "(unknown artist)"


@pytest.mark.parametrize(("duration", "expected"), [
    (215_000, 215_000), (12.7, 12), (0, 0), (-1, None), (True, None), ("300", None),
    (float("nan"), None), (float("inf"), None), (None, None),
])
def test_duration_is_whole_milliseconds_or_none(duration: object, expected: int | None) -> None:
    like = make_like(5, T0)
    like["track"]["duration"] = duration
    assert parse_like(like).track.duration_ms == expected


@pytest.mark.parametrize("problem", ["no_track", "null_track", "no_id", "no_permalink",
                                     "no_created_at"])
async def test_unusable_items_are_skipped_with_one_warning(sc: SoundCloudClient,
                                                           fake: FakeSoundCloud,
                                                           caplog: pytest.LogCaptureFixture,
                                                           problem: str) -> None:
    fake.set_likes([make_like(2, T0 + timedelta(hours=2)), broken_like(T0 + timedelta(hours=1),
                    problem), make_like(1, T0)])
    with caplog.at_level(logging.WARNING, logger="ntrbot.soundcloud"):
        got = await all_likes(sc, fake.user_id)
    assert [like.track.id for like in got] == [2, 1]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipping item 1" in warnings[0].getMessage()


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-03-14T01:00:00Z", T0),
    ("2026-03-14T02:00:00+01:00", T0),
    ("2026-03-14T01:00:00.250Z", T0 + timedelta(milliseconds=250)),
    ("2026/03/14 01:00:00 +0000", T0),
    ("2026-03-14T01:00:00", T0),  # naive is taken as UTC
])
def test_parse_time_gives_aware_utc(text: str, expected: datetime) -> None:
    got = parse_time(text)
    assert got == expected and got.utcoffset() == timedelta(0)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.text(max_size=5), kids, max_size=3), max_leaves=8)
FIELD = st.sampled_from(["id", "title", "permalink_url", "user", "publisher_metadata", "duration",
                         "artwork_url", "license"])


@given(st.one_of(JSON, st.builds(lambda changes, created: {
    "created_at": created, "track": {**make_like(5, T0)["track"], **changes}},
    st.dictionaries(FIELD, JSON, max_size=4), st.one_of(JSON, st.just("2026-03-14T01:00:00Z")))))
def test_any_item_gives_a_like_or_a_soundcloud_error(item: Any) -> None:
    try:
        like = parse_like(item)
    except SoundCloudError as exc:
        assert "\n" not in str(exc)
        return
    assert like.liked_at.utcoffset() == timedelta(0) and like.track.id > 0
    assert like.track.permalink_url.startswith(("http://", "https://"))
    assert isinstance(like.track.title, str) and isinstance(like.track.artist, str)
    assert like.track.duration_ms is None or isinstance(like.track.duration_ms, int)


# --- faults -------------------------------------------------------------------------

async def test_retries_5xx_with_exponential_backoff(sc: SoundCloudClient, fake: FakeSoundCloud,
                                                    sleeps: Sleeps) -> None:
    await sc.client_id()
    fake.fail_next(2, status=503)
    assert len(await all_likes(sc, fake.user_id)) == 3
    assert sleeps == [0.5, 1.0]


async def test_gives_up_after_max_retries(sc: SoundCloudClient, fake: FakeSoundCloud,
                                          sleeps: Sleeps) -> None:
    await sc.client_id()
    fake.fail_next(10, status=500)
    before = sc.requests_made
    with pytest.raises(SoundCloudError, match=r"HTTP 500 \(gave up after 4 attempts\)") as err:
        await all_likes(sc, fake.user_id)
    assert sc.requests_made - before == 4 and sleeps == [0.5, 1.0, 2.0]
    assert err.value.status == 500


@pytest.mark.parametrize(("retry_after", "expected"), [
    ("7", 7.0),
    ("0", 0.0),
    ("100000", 120.0),  # capped
    (None, 0.5),  # no header: ordinary backoff
    ("soon", 0.5),  # unparseable: ordinary backoff
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),  # a date in the past
])
async def test_429_honours_retry_after(sc: SoundCloudClient, fake: FakeSoundCloud, sleeps: Sleeps,
                                       retry_after: str, expected: float) -> None:
    await sc.client_id()
    fake.rate_limit_next(retry_after=retry_after)
    assert await sc.resolve_user("nicktherat") == fake.user_id
    assert sleeps == [expected]


async def test_timeout_is_retried(sc: SoundCloudClient, fake: FakeSoundCloud,
                                  sleeps: Sleeps) -> None:
    await sc.client_id()
    fake.hang_next(1, seconds=5)
    assert len(await all_likes(sc, fake.user_id)) == 3
    assert sleeps == [0.5]


async def test_timeouts_exhaust_into_one_clear_error(fake: FakeSoundCloud, http: httpx.AsyncClient,
                                                     sleeps: Sleeps) -> None:
    sc = SoundCloudClient(http, api_base=fake.api_base, web_base=fake.web_base,
                          max_retries=1, sleep=sleeps)
    await sc.client_id()
    fake.hang_next(2, seconds=5)
    with pytest.raises(SoundCloudError, match=r"likes page 1: timed out \(gave up after 2"):
        await all_likes(sc, fake.user_id)


async def test_dropped_connection_is_retried(sc: SoundCloudClient, fake: FakeSoundCloud,
                                             sleeps: Sleeps) -> None:
    await sc.client_id()
    fake.disconnect_next()
    assert await sc.resolve_user("nicktherat") == fake.user_id
    assert sleeps == [0.5]


async def test_unreachable_server_is_an_error(http: httpx.AsyncClient, sleeps: Sleeps) -> None:
    sc = SoundCloudClient(http, api_base="http://127.0.0.1:9", web_base="http://127.0.0.1:9",
                          client_id="a" * 32, max_retries=2, sleep=sleeps)
    with pytest.raises(SoundCloudError, match="connection failed"):
        await sc.resolve_user("nicktherat")
    assert len(sleeps) == 2


@pytest.mark.parametrize("body", [
    None,  # the fake's HTML error page
    b'{"collection": [',
    b'{"collection": 5}',
    b'[1, 2, 3]',
    b'{"collection": [], "next_href": 17}',
    b'{"collection": [1]}',
    b"\xff\xfe\x00garbage",
    b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the JSON parser's recursion limit
])
async def test_garbage_bodies_are_errors_never_partial(sc: SoundCloudClient, fake: FakeSoundCloud,
                                                       sleeps: Sleeps, body: bytes) -> None:
    await sc.client_id()
    fake.garbage_next(body=body)
    with pytest.raises(SoundCloudError, match="likes page 1"):
        await all_likes(sc, fake.user_id)
    assert sleeps == []


async def test_truncated_json_is_an_error(sc: SoundCloudClient, fake: FakeSoundCloud) -> None:
    await sc.client_id()
    fake.truncate_next()
    with pytest.raises(SoundCloudError, match="not valid JSON"):
        await all_likes(sc, fake.user_id)


async def test_error_messages_never_hold_the_client_id(sc: SoundCloudClient,
                                                       fake: FakeSoundCloud) -> None:
    cid = await sc.client_id()
    errors: list[SoundCloudError] = []
    arrange: Callable[[], None]
    for arrange in (lambda: fake.fail_next(10), lambda: fake.fail_next(5, status=401),
                    fake.truncate_next, fake.garbage_next, lambda: fake.fail_next(1, 418)):
        arrange()
        with pytest.raises(SoundCloudError) as err:
            await all_likes(sc, fake.user_id)
        errors.append(err.value)
        fake.faults.clear()
    for exc in errors:
        assert cid not in str(exc) and "\n" not in str(exc) and str(exc)
    assert str(SoundCloudError(f"GET /x?client_id={cid}&a=1\nmore")) == (
        "GET /x?client_id=***&a=1 more")


# --- tracks ----------------------------------------------------------------------

async def test_resolve_and_get_track(sc: SoundCloudClient, fake: FakeSoundCloud) -> None:
    fake.set_likes([make_like(42, T0, title="Deep Cut", artist="Someone")])
    url = fake.likes[0]["track"]["permalink_url"]
    track = await sc.resolve_track(url)
    assert (track.id, track.title, track.artist) == (42, "Deep Cut", "Someone")
    assert await sc.get_track(42) == track


@pytest.mark.parametrize(("url", "error", "message"), [
    ("https://soundcloud.com/nobody/nothing", SoundCloudNotFound, "no SoundCloud track at"),
    ("https://soundcloud.com/nicktherat", SoundCloudError, "is not a SoundCloud track"),
    ("javascript:alert(1)", SoundCloudError, "not a SoundCloud URL"),
])
async def test_resolve_track_errors(sc: SoundCloudClient, url: str, error: type[SoundCloudError],
                                    message: str) -> None:
    with pytest.raises(error, match=message):
        await sc.resolve_track(url)


@pytest.mark.parametrize(("href", "expected"), [
    ("{api}/users/1/track_likes?offset=abc&limit=2",
     "{api}/users/1/track_likes?offset=abc&limit=2"),
    ("/users/1/track_likes?offset=abc", "{api}/users/1/track_likes?offset=abc"),
    ("https://api-v2.soundcloud.com/users/1/track_likes?offset=a%2Cb",
     "{api}/users/1/track_likes?offset=a%2Cb"),
])
def test_next_href_on_another_origin_goes_to_api_base(http: httpx.AsyncClient, href: str,
                                                      expected: str) -> None:
    api = "http://127.0.0.1:1234"
    sc = SoundCloudClient(http, api_base=api, web_base=api)
    assert sc._follow(href.format(api=api)) == expected.format(api=api)
