"""Fuzzing every HTTP route: arbitrary paths, queries, bodies and auth never give a 5xx."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntrbot.app import create_app
from tests.support.constants import ADMIN_TOKEN, SECRET_KEY, WEB_PASSWORD, WEB_USER
from tests.support.reliability import ThreadedApp, app_settings, sample_likes

pytestmark = pytest.mark.timeout(120)
EXAMPLES = 25
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def _dashboard_settings(tmp: Path, fake: Any) -> Any:
    return app_settings(tmp, fake, web_user=WEB_USER, web_password=WEB_PASSWORD,
                        secret_key=SECRET_KEY, cookie_secure="false")


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every route of the full app (dashboard mounted)."""
    app = create_app(_dashboard_settings(Path(tempfile.gettempdir()), None), start_poller=False)
    out: set[tuple[str, str]] = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path") or ""
        if isinstance(route.resource, web.StaticResource):
            template = info.get("prefix", "") + "/{filename}"
        if template and route.method != "HEAD":
            out.add((route.method, template))
    return sorted(out)


ROUTES = _routes()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedApp]:
    tmp = tmp_path_factory.mktemp("fuzz-http")
    served = ThreadedApp(lambda fake: _dashboard_settings(tmp, fake), sample_likes(5)).start()
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="module")
def session_cookie(server: ThreadedApp) -> str:
    with httpx.Client(base_url=server.base_url) as http:
        resp = http.post("/login", data={"username": WEB_USER, "password": WEB_PASSWORD})
        assert resp.status_code == 303, resp.text
        cookie = http.cookies.get("ntr_session")
    assert cookie
    return cookie


path_values = st.one_of(
    st.sampled_from(["1", "2", "0", "-1", "01", "999999999", "99999999999999999999", "1.5",
                     "1e3", "nan", "%00", "..", "%2e%2e%2f", "json", "csv", "txt", "m3u",
                     "dashboard.js", "login.html", "../ntrbot.db", " 1", "١", "𝟙", "1/2"]),
    st.text(min_size=1, max_size=40),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={
        "show_id": json_values | st.integers(), "position": json_values | st.integers(),
        "force": json_values, "url": json_values | st.just("https://soundcloud.com/a/b"),
        "to": json_values | st.integers(), "episode": json_values | st.integers()}),
)
bodies = st.one_of(
    st.none(),
    st.binary(max_size=300).map(lambda b: ("application/octet-stream", b)),
    json_bodies.map(lambda v: ("application/json", json.dumps(v).encode())),
    st.text(max_size=200).map(lambda t: ("application/json", t.encode("utf-8", "surrogatepass"))),
    st.dictionaries(st.sampled_from(["username", "password", "x"]), st.text(max_size=30),
                    max_size=3).map(lambda d: ("application/x-www-form-urlencoded",
                                               httpx.QueryParams(d).__str__().encode())),
    st.just(("application/json", b"[" * 5000)),
    st.just(("application/json", b'{"show_id": 1, "position": 1, "force": true}')),
    st.just(("application/json", b"\xff\xfe{\x00}\x00")),
)
queries = st.dictionaries(
    st.sampled_from(["limit", "offset", "show_id", "position", "format", "q", "x"])
    | st.text(max_size=10),
    st.text(max_size=20) | st.sampled_from(["0", "-1", "100", "101", "1e9", "", "99999999999"]),
    max_size=3)
auths = st.sampled_from(["none", "bearer", "bad-bearer", "session", "session-cross-origin",
                         "bearer-and-session", "garbage-cookie"])


def _url(template: str, params: list[str]) -> str:
    it = iter(params)
    return _PARAM.sub(lambda m: quote(next(it), safe=""), template)


def _headers(auth: str, cookie: str, base_url: str) -> dict[str, str]:
    h: dict[str, str] = {}
    if auth in {"bearer", "bearer-and-session"}:
        h["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    if auth == "bad-bearer":
        h["Authorization"] = "Bearer nope"
    if auth.startswith("session") or auth == "bearer-and-session":
        h["Cookie"] = f"ntr_session={cookie}"
        h["Origin"] = "https://evil.example" if auth.endswith("cross-origin") else base_url
    if auth == "garbage-cookie":
        h["Cookie"] = "ntr_session=gAAAAABnot-a-fernet-token=="
    return h


def check_response(resp: httpx.Response, what: str) -> None:
    assert resp.status_code < 500, f"{what} -> {resp.status_code}: {resp.text[:300]}"
    if resp.status_code >= 400 and resp.request.method != "HEAD":
        ctype = resp.headers.get("content-type", "")
        assert ctype.startswith("application/json"), \
            f"{what} -> {resp.status_code} {ctype}: {resp.text[:200]}"
        body = resp.json()
        assert isinstance(body, dict) and isinstance(body.get("error"), str), \
            f"{what} -> {resp.status_code}: {body}"


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_route_never_fails_on_arbitrary_input(server: ThreadedApp, session_cookie: str,
                                              method: str, template: str) -> None:
    names = _PARAM.findall(template)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(params=st.lists(path_values, min_size=len(names), max_size=len(names)),
           query=queries, body=bodies, auth=auths,
           other_method=st.one_of(st.none(), st.sampled_from(METHODS)))
    def run(params: list[str], query: dict[str, str], body: tuple[str, bytes] | None,
            auth: str, other_method: str | None) -> None:
        url = _url(template, params)
        verb = other_method or method
        headers = _headers(auth, session_cookie, server.base_url)
        content = None
        if body is not None and verb not in {"GET", "HEAD"}:
            headers["Content-Type"] = body[0]
            content = body[1]
        resp = http.request(verb, url, params=query, content=content, headers=headers)
        what = f"{verb} {url}?{query} auth={auth} body={content[:80] if content else None!r}"
        check_response(resp, what)
        errors = server.errors.take()
        assert not errors, f"{what}: server logged errors:\n" + "\n".join(errors)

    with httpx.Client(base_url=server.base_url, timeout=15) as http:
        run()
        assert http.get("/health").status_code == 200  # still healthy afterwards
