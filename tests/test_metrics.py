"""GET /metrics: who may read it, and that its counters move with real actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from ntrbot import keys
from ntrbot.config import load_settings
from ntrbot.settings import ConfigError, Settings
from ntrbot.stats import Histogram
from tests.support.constants import BEARER, WEB_USER
from tests.support.dashboard import dashboard_settings
from tests.support.fakes import FakeIrc
from tests.support.memory_soundcloud import MemorySoundCloud
from tests.support.net import wait_until
from tests.support.plugin import MakeApp
from tests.support.polling import like
from tests.support.seed import seed_app

METRICS_TOKEN = "metrics-token-0123456789abcdef"
RELAY_TOKEN = "relay-token-0123456789abcdef"
METRICS = {"Authorization": f"Bearer {METRICS_TOKEN}"}


@pytest.fixture
async def app_client(make_settings: Callable[..., Settings], aiohttp_client: Any, make_app: MakeApp,
                     irc: FakeIrc) -> tuple[web.Application, TestClient[Any, Any]]:
    settings = dashboard_settings(make_settings, metrics_token=METRICS_TOKEN,
                                  relay_tokens=(RELAY_TOKEN,))
    app = make_app(settings, irc)
    return app, await aiohttp_client(app)


async def scrape(client: TestClient[Any, Any],
                 headers: dict[str, str] = METRICS) -> dict[str, float]:
    """{'name{label="v",...}': value} of one scrape (labels sorted by name)."""
    r = await client.get("/metrics", headers=headers)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values = {}
    for family in text_string_to_metric_families(await r.text()):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            values[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return values


async def test_metrics_needs_the_admin_or_the_metrics_token(app_client: Any) -> None:
    _, client = app_client
    r = await client.get("/metrics")
    assert r.status == 401 and "authentication required" in (await r.json())["error"]
    assert (await client.get("/metrics", headers=BEARER)).status == 200
    assert (await client.get("/metrics", headers=METRICS)).status == 200
    r = await client.get("/metrics", headers={"Authorization": f"Bearer {RELAY_TOKEN}"})
    assert r.status == 403 and "relay token" in (await r.json())["error"]
    # a session is not enough: scrapers use a token
    await client.post("/login", data={"username": WEB_USER, "password": "wrong"})
    assert (await client.get("/metrics")).status == 401


async def test_the_metrics_token_reads_nothing_else(app_client: Any) -> None:
    _, client = app_client
    for method, path in (("GET", "/admin/delay"), ("POST", "/admin/refresh"),
                         ("POST", "/admin/announce")):
        r = await client.request(method, path, headers=METRICS, json={})
        assert r.status == 403, (path, r.status)
        assert (await r.json())["error"] == "the metrics token may only read /metrics"
    assert (await client.get("/metrics", headers=METRICS)).status == 200  # never throttled


async def test_wrong_tokens_are_401_json_then_throttled(app_client: Any) -> None:
    _, client = app_client
    wrong = {"Authorization": "Bearer not-the-metrics-token-at-all"}
    for _ in range(5):
        r = await client.get("/metrics", headers=wrong)
        assert r.status == 401 and (await r.json()) == {"error": "invalid metrics token"}
    r = await client.get("/metrics", headers=wrong)
    assert r.status == 429 and "Retry-After" in r.headers
    assert METRICS_TOKEN not in await r.text()


async def test_counters_move_with_an_announce_a_failed_login_and_polls(
        app_client: Any, irc: FakeIrc) -> None:
    app, client = app_client
    show_id, _ = await seed_app(app)
    before = await scrape(client)
    assert before['ntrbot_polls_total{result="ok"}'] == 0
    assert before['ntrbot_login_failures_total{reason="invalid"}'] == 0
    assert before["ntrbot_announce_delivery_seconds_count"] == 0
    assert before["ntrbot_process_open_fds"] > 0 and before["ntrbot_process_threads"] >= 1
    assert before["ntrbot_asyncio_tasks"] >= 1

    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 1},
                          headers=BEARER)
    assert (await r.json())["delivery"] == "delivered"
    irc.mode = "refused"
    r = await client.post("/admin/announce", json={"show_id": show_id, "position": 2},
                          headers=BEARER)
    assert (await r.json())["delivery"] == "failed"
    await client.post("/login", data={"username": WEB_USER, "password": "wrong"})
    assert (await client.post("/admin/refresh", headers=BEARER)).status == 200
    sc = app[keys.SOUNDCLOUD]
    assert isinstance(sc, MemorySoundCloud)
    sc.likes = [like(i, app[keys.NOW]()) for i in range(1, 5)]  # a second page: it fails
    sc.fail = RuntimeError("SoundCloud is down")
    assert (await client.post("/admin/refresh", headers=BEARER)).status == 424

    async def recorded() -> bool:
        after = await scrape(client)
        return after.get('ntrbot_announces_total{kind="irc",output="irc:#sewerchat",'
                         'state="failed"}') == 1
    await wait_until(recorded, 10, "the failed delivery recorded")
    after = await scrape(client)
    assert after['ntrbot_announces_total{kind="irc",output="irc:#sewerchat",'
                 'state="delivered"}'] == 1
    assert after["ntrbot_announce_delivery_seconds_count"] == 1
    assert after['ntrbot_login_failures_total{reason="invalid"}'] == 1
    assert after['ntrbot_polls_total{result="ok"}'] == 1
    assert after['ntrbot_polls_total{result="error"}'] == 1
    assert after["ntrbot_irc_connected"] == 1


async def test_irc_counters_are_the_links_status(app_client: Any, irc: FakeIrc,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Reconnects, dead links and join refusals come from the backend's status(), the
    same counts /health shows."""
    _, client = app_client
    shown = replace(irc.status(), reconnects=4,
                    reconnects_by_reason={"dead_link": 2, "ping_timeout": 1,
                                          "server_closed": 1},
                    join_refusal_counts={"474": 3})
    monkeypatch.setattr(irc, "status", lambda: shown)
    got = await scrape(client)
    assert got['ntrbot_irc_reconnects_total{reason="dead_link"}'] == 2
    assert got['ntrbot_irc_reconnects_total{reason="server_closed"}'] == 1
    assert got['ntrbot_irc_reconnects_total{reason="connect_failed"}'] == 0
    assert got["ntrbot_irc_dead_links_total"] == 3
    assert got['ntrbot_irc_join_refusals_total{numeric="474"}'] == 3


async def test_websocket_gauges_count_open_sockets(app_client: Any) -> None:
    _, client = app_client
    assert (await scrape(client))['ntrbot_websocket_connections{path="/ws/public"}'] == 0
    async with client.ws_connect("/ws/public") as ws:
        await ws.receive_json()  # the hello: it is counted now
        values = await scrape(client)
        assert values['ntrbot_websocket_connections{path="/ws/public"}'] == 1
        assert values['ntrbot_websocket_connections{path="/ws/announce"}'] == 0
        assert values['ntrbot_websocket_connections{path="/ws/dashboard"}'] == 0


async def test_the_loop_lag_probe_runs_for_the_app(app_client: Any) -> None:
    app, client = app_client
    app[keys.STATS].loop_lag.interval = 0.01

    async def probed() -> bool:
        return (await scrape(client))["ntrbot_event_loop_lag_seconds_count"] >= 2
    await wait_until(probed, 20, "the lag probe")


async def test_each_app_has_its_own_registry(make_settings: Callable[..., Settings],
                                             aiohttp_client: Any, make_app: MakeApp) -> None:
    settings = make_settings()
    a = await aiohttp_client(make_app(settings, FakeIrc()))
    b = await aiohttp_client(make_app(settings, FakeIrc()))
    await a.post("/login")  # no dashboard here: nothing counted, both still serve
    assert "ntrbot_polls_total" in await (await a.get("/metrics", headers=BEARER)).text()
    assert "ntrbot_polls_total" in await (await b.get("/metrics", headers=BEARER)).text()


def test_metrics_token_setting_is_checked_and_masked() -> None:
    base = {"NTR_ADMIN_TOKEN": "admin-token-0123456789abcdef"}
    s = load_settings({**base, "NTR_METRICS_TOKEN": METRICS_TOKEN})
    assert s.metrics_token == METRICS_TOKEN
    assert METRICS_TOKEN not in repr(s.masked())
    with pytest.raises(ConfigError, match="NTR_METRICS_TOKEN: must be at least 16"):
        load_settings({**base, "NTR_METRICS_TOKEN": "short"})
    with pytest.raises(ConfigError, match="NTR_METRICS_TOKEN: must differ"):
        load_settings({**base, "NTR_METRICS_TOKEN": base["NTR_ADMIN_TOKEN"]})


def test_histogram_buckets_are_cumulative_le() -> None:
    h = Histogram((0.1, 1.0), [0.05, 0.1, 0.5, 3.0])
    assert h.cumulative() == [("0.1", 2.0), ("1.0", 3.0), ("+Inf", 4.0)]
    assert h.count == 4 and h.sum == pytest.approx(3.65)

