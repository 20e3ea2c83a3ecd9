"""Fuzzing the WebSockets (/ws/announce, /ws/dashboard, /ws/public): any frames, no crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.reliability import ThreadedApp, app_settings, sample_likes

pytestmark = pytest.mark.timeout(120)
EXAMPLES = 30
INTERNAL_ERROR = 1011

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=3),
    max_leaves=10)
typed = st.fixed_dictionaries(
    {"type": st.sampled_from(["subscribe", "ping", "announcements", "pong", "hello", "x"])
     | json_values},
    optional={"token": st.just(ADMIN_TOKEN) | json_values, "show_id": st.integers() | json_values,
              "position": json_values})
frames = st.lists(st.one_of(
    typed.map(lambda v: ("text", json.dumps(v))),
    json_values.map(lambda v: ("text", json.dumps(v))),
    st.text(max_size=200).map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("binary", b)),
    st.just(("text", "{" * 10_000)),
    st.just(("text", "x" * 70_000)),  # over every socket's max message size
    st.just(("binary", b"\x00" * 70_000)),
    st.just(("ping", b"")),
    st.just(("text", '{"type": "subscribe", "token": "' + ADMIN_TOKEN + '"}')),
), min_size=1, max_size=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedApp]:
    tmp = tmp_path_factory.mktemp("fuzz-ws")
    served = ThreadedApp(lambda fake: app_settings(
        tmp, fake, web_user=WEB_USER, web_password=WEB_PASSWORD, secret_key=SECRET_KEY,
        cookie_secure="false"), sample_likes(5)).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def cookie(server: ThreadedApp) -> str:
    with httpx.Client(base_url=server.base_url) as http:
        resp = http.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD})
        assert resp.status_code == 303
        value = http.cookies.get("ntr_session")
    assert value
    return value


async def throw(url: str, headers: dict[str, str], sequence: list[tuple[str, Any]],
                subscribe_first: bool) -> list[aiohttp.WSMessage]:
    """Send the frames, then read for a moment; returns what the server sent."""
    got: list[aiohttp.WSMessage] = []
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(url, headers=headers, max_msg_size=0, autoping=True)
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status < 500, f"handshake {exc.status}"
            return got
        async with ws:
            if subscribe_first:
                await ws.send_str(json.dumps({"type": "subscribe", "token": ADMIN_TOKEN}))
            for kind, data in sequence:
                if ws.closed:
                    break
                try:
                    if kind == "text":
                        await ws.send_str(data)
                    elif kind == "binary":
                        await ws.send_bytes(data)
                    else:
                        await ws.ping(data)
                except (ConnectionError, RuntimeError):
                    break
            while True:
                try:
                    msg = await ws.receive(timeout=0.15)
                except TimeoutError:
                    break
                got.append(msg)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):
                    break
            if ws.closed:
                assert ws.close_code != INTERNAL_ERROR, f"closed with {ws.close_code}"
    return got


def _check_texts(got: list[aiohttp.WSMessage]) -> None:
    for msg in got:
        if msg.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(msg.data)  # every text frame the server sends is JSON
            assert isinstance(data, dict) and isinstance(data.get("type"), str), data
        elif msg.type == aiohttp.WSMsgType.CLOSE:
            assert msg.data != INTERNAL_ERROR


async def _announce_reaches_a_good_subscriber(base: str) -> None:
    async with aiohttp.ClientSession(base) as http:
        async with http.ws_connect("/ws/announce") as ws:
            await ws.send_str(json.dumps({"type": "subscribe", "token": ADMIN_TOKEN}))
            first = await ws.receive_json(timeout=5)
            assert first["type"] == "status"
            async with http.get("/playlist") as r:
                show_id = (await r.json())["id"]
            async with http.post("/admin/announce", json={
                    "show_id": show_id, "position": 1, "force": True},
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as r:
                assert r.status == 200, await r.text()
            while True:
                msg = await ws.receive_json(timeout=5)
                if msg["type"] == "announce":
                    break


@pytest.mark.parametrize("path", ["/ws/announce", "/ws/dashboard", "/ws/public"])
def test_socket_survives_arbitrary_frames(server: ThreadedApp, cookie: str, path: str) -> None:
    assert server.app is not None
    if not any(getattr(r.resource, "canonical", None) == path for r in server.app.router.routes()):
        pytest.skip(f"{path} is not mounted")
    url = server.base_url.replace("http://", "ws://") + path
    headers = {"Cookie": f"ntr_session={cookie}"} if path == "/ws/dashboard" else {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(sequence=frames, subscribe_first=st.booleans(),
           origin=st.sampled_from([None, "same", "https://evil.example"]))
    def run(sequence: list[tuple[str, Any]], subscribe_first: bool, origin: str | None) -> None:
        h = dict(headers)
        if origin is not None:
            h["Origin"] = server.base_url if origin == "same" else origin
        got = asyncio.run(throw(url, h, sequence, subscribe_first and path == "/ws/announce"))
        _check_texts(got)
        errors = server.errors.take()
        assert not errors, "server logged errors:\n" + "\n".join(errors)

    run()
    with httpx.Client(base_url=server.base_url, timeout=5) as http:
        health = http.get("/health")
        assert health.status_code == 200
    asyncio.run(_announce_reaches_a_good_subscriber(server.base_url))


def test_announce_socket_refuses_bad_first_frames_with_4001(server: ThreadedApp) -> None:
    url = server.base_url.replace("http://", "ws://") + "/ws/announce"

    async def first_frame(data: str | bytes) -> int | None:
        async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
            if isinstance(data, bytes):
                await ws.send_bytes(data)
            else:
                await ws.send_str(data)
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            return ws.close_code

    bads: list[str | bytes] = [
        '{"type": "subscribe", "token": "wrong"}', '{"type": "subscribe"}',
        '{"type": "subscribe", "token": 5}', "[]", "not json", b"\x81\x00",
        '{"token": "' + ADMIN_TOKEN + '"}']
    for bad in bads:
        assert asyncio.run(first_frame(bad)) == 4001, bad
