"""Local stand-in for SoundCloud's web site and api-v2 on one loopback port, with faults."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import signal
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "Fak3SoundCloudC1ientIdForTests01"
DECOY_CLIENT_ID = "St4leDecoyC1ientIdInAnO1dBund1e9"
API_ROUTES = frozenset({"resolve", "track_likes", "user", "track"})
WEB_ROUTES = frozenset({"page", "asset"})
FAULT_KINDS = frozenset({"status", "rate_limit", "hang", "truncate", "garbage", "disconnect"})
_BOT_UA = re.compile(r"python|httpx|aiohttp|curl|wget|requests|^$", re.IGNORECASE)
_AUTO: Any = object()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _iso(when: datetime | str) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def make_track(track_id: int, title: str | None = None, artist: str | None = None,
               uploader: str | None = None, *, artwork_url: str | None = _AUTO,
               avatar_url: str | None = _AUTO, duration_ms: int | None = 215_000,
               license: str | None = "all-rights-reserved", permalink_url: str | None = None,
               publisher_metadata: dict[str, Any] | None = _AUTO,
               web_base: str = "https://soundcloud.com",
               omit: Iterable[str] = ()) -> dict[str, Any]:
    """An api-v2 track object. `artist` goes to publisher_metadata; `omit` drops keys."""
    title = f"Track {track_id}" if title is None else title
    uploader = f"uploader-{track_id % 97}" if uploader is None else uploader
    if publisher_metadata is _AUTO:
        publisher_metadata = {"id": track_id, "urn": f"soundcloud:tracks:{track_id}",
                              "contains_music": True}
        if artist is not None:
            publisher_metadata["artist"] = artist
    avatar = f"https://i1.sndcdn.com/avatars-{_slug(uploader)}-large.jpg"
    track = {
        "kind": "track", "id": track_id, "urn": f"soundcloud:tracks:{track_id}",
        "title": title, "duration": duration_ms, "full_duration": duration_ms,
        "permalink": _slug(title),
        "permalink_url": permalink_url or f"{web_base}/{_slug(uploader)}/{_slug(title)}",
        "artwork_url": (f"https://i1.sndcdn.com/artworks-{track_id:012d}-large.jpg"
                        if artwork_url is _AUTO else artwork_url),
        "license": license, "genre": "Electronic", "streamable": True, "policy": "ALLOW",
        "created_at": "2025-01-01T00:00:00Z", "playback_count": 1000 + track_id % 5000,
        "publisher_metadata": publisher_metadata,
        "user": {"kind": "user", "id": 10_000 + track_id % 97, "username": uploader,
                 "permalink": _slug(uploader), "avatar_url": avatar if avatar_url is _AUTO
                 else avatar_url, "permalink_url": f"{web_base}/{_slug(uploader)}"},
    }
    for key in omit:
        track.pop(key, None)
    return track


def make_like(track_id: int, liked_at: datetime | str, title: str | None = None,
              artist: str | None = None, uploader: str | None = None,
              **track_kw: Any) -> dict[str, Any]:
    """A track_likes collection item: {"created_at", "kind": "like", "track": {...}}."""
    return {"created_at": _iso(liked_at), "kind": "like",
            "track": make_track(track_id, title, artist, uploader, **track_kw)}


def broken_like(liked_at: datetime | str, problem: str, track_id: int = 999_999) -> dict[str, Any]:
    """An unusable like: problem is no_track, null_track, no_id, no_permalink or no_created_at."""
    like = make_like(track_id, liked_at)
    mutate: dict[str, Callable[[], object]] = {
        "no_track": lambda: like.pop("track"), "null_track": lambda: like.update(track=None),
        "no_id": lambda: like["track"].pop("id"), "no_created_at": lambda: like.pop("created_at"),
        "no_permalink": lambda: like["track"].pop("permalink_url")}
    mutate[problem]()
    return like


def like_from_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A raw like dict as is, or make_like(**spec) for {"track_id", "liked_at", ...}."""
    if "track" in spec or spec.get("kind") == "like":
        return spec
    return make_like(**spec)


@dataclass
class Fault:
    """One canned failure: kind is status, rate_limit, hang, truncate, garbage or disconnect."""

    kind: str
    scope: str = "api"  # api, web, any, or a path prefix such as "/resolve"
    status: int = 500
    retry_after: str | None = "1"
    seconds: float = 30.0
    body: bytes = b"<html><body><h1>Something went wrong</h1></body></html>"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")

    def applies(self, route: str, path: str) -> bool:
        scopes = {"any": API_ROUTES | WEB_ROUTES, "api": API_ROUTES, "web": WEB_ROUTES}
        return route in scopes[self.scope] if self.scope in scopes else path.startswith(self.scope)


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake saw: route name (page, asset, resolve, track_likes, track, ...) and status."""

    method: str
    path: str
    query: dict[str, str]
    route: str
    status: int
    user_agent: str = ""


@dataclass
class FakeSoundCloud:
    """aiohttp fake: web page + bundles at base_url/, api at base_url/ (api_base == web_base)."""

    client_id: str = DEFAULT_CLIENT_ID
    username: str = "nicktherat"
    user_id: int = 1_234_567
    likes: list[dict[str, Any]] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    block_bots: bool = True
    likes_file: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    faults: list[Fault] = field(default_factory=list)
    extra_tracks: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.set_likes(self.likes)
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._likes_mtime: float | None = None
        self.base_url = ""

    # --- control -------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return self.base_url

    @property
    def web_base(self) -> str:
        return self.base_url

    def set_likes(self, likes: Iterable[dict[str, Any]]) -> None:
        """Replace the likes; sorted newest first unless some lack created_at (order kept)."""
        items = [like_from_spec(dict(x)) for x in likes]
        if all(isinstance(x.get("created_at"), str) for x in items):
            items.sort(key=lambda x: x["created_at"], reverse=True)
        self.likes = items

    def add_like(self, like: dict[str, Any]) -> None:
        self.set_likes([like, *self.likes])

    def remove_like(self, track_id: int) -> None:
        self.likes = [x for x in self.likes if (x.get("track") or {}).get("id") != track_id]

    def inject(self, kind: str, count: int = 1, **kw: Any) -> None:
        """Queue `count` faults; each matching request consumes one, oldest first."""
        self.faults.extend(Fault(kind, **kw) for _ in range(count))

    def fail_next(self, count: int = 1, status: int = 500, scope: str = "api") -> None:
        self.inject("status", count, status=status, scope=scope)

    def rate_limit_next(self, count: int = 1, retry_after: str | None = "1",
                        scope: str = "api") -> None:
        self.inject("rate_limit", count, retry_after=retry_after, scope=scope)

    def hang_next(self, count: int = 1, seconds: float = 30.0, scope: str = "api") -> None:
        self.inject("hang", count, seconds=seconds, scope=scope)

    def truncate_next(self, count: int = 1, scope: str = "api") -> None:
        self.inject("truncate", count, scope=scope)

    def garbage_next(self, count: int = 1, body: bytes | None = None, scope: str = "api") -> None:
        self.inject("garbage", count, scope=scope, **({"body": body} if body else {}))

    def disconnect_next(self, count: int = 1, scope: str = "api") -> None:
        self.inject("disconnect", count, scope=scope)

    def rotate_client_id(self, new_id: str | None = None) -> str:
        """New client_id (old one now 401); the page then links a new bundle holding it."""
        self.client_id = new_id or hashlib.sha256(self.client_id.encode()).hexdigest()[:32]
        return self.client_id

    def count(self, route: str) -> int:
        return self.counts[route]

    def reset_requests(self) -> None:
        self.requests.clear()
        self.counts.clear()

    # --- lifecycle -----------------------------------------------------------

    async def start(self) -> FakeSoundCloud:
        app = web.Application(middlewares=[self._middleware])
        for method, path, handler, name in [
            ("GET", "/_fake/state", self._state, "control"),
            ("POST", "/_fake/likes", self._post_likes, "control-likes"),
            ("POST", "/_fake/fault", self._post_fault, "control-fault"),
            ("POST", "/_fake/rotate", self._post_rotate, "control-rotate"),
            ("GET", "/resolve", self._resolve, "resolve"),
            ("GET", "/users/{id}/track_likes", self._track_likes, "track_likes"),
            ("GET", "/users/{id}", self._user, "user"),
            ("GET", "/tracks/{id}", self._track, "track"),
            ("GET", "/assets/{name}", self._asset, "asset"), ("GET", "/", self._page, "page"),
            ("GET", "/{username}", self._page, "page-user")]:
            app.router.add_route(method, path, handler, name=name)
        self._closing.clear()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://{self.host}:{self.port}"
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSoundCloud:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- plumbing --------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.route.name or "other"
        route = "page" if name == "page-user" else name
        status = 0
        try:
            resp = await self._dispatch(request, handler, route)
            status = resp.status
            return resp
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            self.counts[route] += 1
            self.requests.append(RecordedRequest(
                request.method, request.path, dict(request.query), route, status,
                request.headers.get("User-Agent", "")))

    async def _dispatch(self, request: web.Request, handler: Handler,
                        route: str) -> web.StreamResponse:
        if route.startswith("control"):
            return await handler(request)
        if self.block_bots and _BOT_UA.search(request.headers.get("User-Agent", "")):
            return web.Response(status=403, content_type="text/html",
                                text="<html><body>Access denied (fake anti-bot: "
                                     "send a browser User-Agent)</body></html>")
        fault = next((f for f in self.faults if f.applies(route, request.path)), None)
        if fault is not None:
            self.faults.remove(fault)
            early = await self._apply_fault(fault, request)
            if early is not None:
                return early
        if route in API_ROUTES and request.query.get("client_id") != self.client_id:
            return web.json_response({"code": 401, "message": "Unauthorized",
                                      "status": "401 - Unauthorized", "errors": []}, status=401)
        self._maybe_reload()
        resp = await handler(request)
        if fault is not None and fault.kind == "truncate" and isinstance(resp, web.Response):
            body = resp.body if isinstance(resp.body, bytes) else b""
            return web.Response(body=body[: max(1, len(body) // 2)],
                                content_type="application/json")
        return resp

    async def _apply_fault(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        if fault.kind == "status":
            return web.json_response({"error": f"fake fault {fault.status}"}, status=fault.status)
        if fault.kind == "rate_limit":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return web.json_response({"error": "rate limited"}, status=429, headers=headers)
        if fault.kind == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.seconds)
            return web.json_response({"error": "gateway timeout"}, status=504)
        if fault.kind == "garbage":
            return web.Response(body=fault.body, content_type="text/html")
        if fault.kind == "disconnect":
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("fake disconnect")
        return None  # truncate: applied to the real answer

    def _maybe_reload(self) -> None:
        if not self.likes_file:
            return
        try:
            mtime = os.stat(self.likes_file).st_mtime
            if mtime != self._likes_mtime:
                self.set_likes(load_likes_file(self.likes_file))
                self._likes_mtime = mtime
        except (OSError, ValueError, TypeError) as exc:
            log.warning("fake soundcloud: cannot (re)load %s: %s", self.likes_file, exc)

    # --- web site --------------------------------------------------------------

    def _bundles(self) -> dict[str, str]:
        tag = hashlib.sha256(self.client_id.encode()).hexdigest()[:8]
        return {
            "0-3f9a1c2e.js": 'webpackJsonp([0],{1:function(e,t){e.exports={client_id:"'
                             + DECOY_CLIENT_ID + '",env:"staging"}}});',
            "vendor-8c1d04b7.js": "(function(){var a=1;return function(b){return a+b}})();",
            f"app-{tag}.js": '(self.webpackChunk=self.webpackChunk||[]).push([[49],{7:'
                             'function(e,t,n){"use strict";n.d(t,{a:function(){return r}});'
                             'var r={client_id : "'
                             + self.client_id + '",app_version:"1700000000",env:"production"}}}]);',
            "49-1e6b2f90.js": 'console.log("hydrate");var x={api:"api-v2",id:"notanid"};',
        }

    async def _page(self, request: web.Request) -> web.Response:
        name = request.match_info.get("username")
        if name is not None and name != self.username:
            return web.Response(status=404, text="<html><body>Not found</body></html>",
                                content_type="text/html")
        scripts = "\n".join(
            f'<script crossorigin src="{self.base_url}/assets/{b}"></script>'
            for b in self._bundles())
        page = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>SoundCloud - Hear the world's sounds</title>"
                "<script>window.__sc_version = \"1700000000\";</script>"
                '<script src="/polyfills/intl.js" async></script></head>'
                f"<body><div id=\"app\"></div>\n{scripts}\n</body></html>")
        return web.Response(text=page, content_type="text/html")

    async def _asset(self, request: web.Request) -> web.Response:
        body = self._bundles().get(request.match_info["name"])
        if body is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(text=body, content_type="application/javascript")

    # --- api -------------------------------------------------------------------

    def _user_json(self) -> dict[str, Any]:
        return {"kind": "user", "id": self.user_id, "username": self.username,
                "permalink": self.username, "permalink_url": f"{self.web_base}/{self.username}",
                "avatar_url": f"https://i1.sndcdn.com/avatars-{self.username}-large.jpg",
                "urn": f"soundcloud:users:{self.user_id}", "likes_count": len(self.likes)}

    def _tracks(self) -> list[dict[str, Any]]:
        liked = [x["track"] for x in self.likes if isinstance(x.get("track"), dict)]
        return liked + self.extra_tracks

    async def _resolve(self, request: web.Request) -> web.Response:
        path = urlsplit(request.query.get("url", "")).path.rstrip("/").lower()
        if path == f"/{self.username}".lower():
            return web.json_response(self._user_json())
        for track in self._tracks():
            if urlsplit(str(track.get("permalink_url", ""))).path.rstrip("/").lower() == path:
                return web.json_response(track)
        return _error(404, "Not Found")

    async def _user(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != str(self.user_id):
            return _error(404, "Not Found")
        return web.json_response(self._user_json())

    async def _track(self, request: web.Request) -> web.Response:
        for track in self._tracks():
            if str(track.get("id")) == request.match_info["id"]:
                return web.json_response(track)
        return _error(404, "Not Found")

    async def _track_likes(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != str(self.user_id):
            return _error(404, "Not Found")
        try:
            limit = min(200, max(1, int(request.query.get("limit", "50"))))
            start = _decode_cursor(request.query["offset"]) if "offset" in request.query else 0
        except (ValueError, KeyError):
            return _error(400, "Bad Request")
        page = self.likes[start:start + limit]
        next_href = None
        if start + limit < len(self.likes):
            next_href = (f"{self.api_base}/users/{self.user_id}/track_likes?offset="
                         f"{_encode_cursor(start + limit)}&limit={limit}&linked_partitioning=1")
        return web.json_response({"collection": page, "next_href": next_href, "query_urn": None})

    # --- /_fake control (for other processes: e2e tests, benchmarks) -----------

    async def _state(self, request: web.Request) -> web.Response:
        return web.json_response({"client_id": self.client_id, "likes": len(self.likes),
                                  "counts": dict(self.counts), "faults": len(self.faults)})

    async def _post_likes(self, request: web.Request) -> web.Response:
        try:
            self.set_likes(await request.json())
        except (ValueError, TypeError, AttributeError) as exc:
            return _error(400, f"bad likes: {exc}")
        return web.json_response({"likes": len(self.likes)})

    async def _post_fault(self, request: web.Request) -> web.Response:
        """Body: {"kind": ..., "count": 1, "status"/"retry_after"/"seconds"/"body"/"scope"}."""
        try:
            spec = dict(await request.json())
            if isinstance(spec.get("body"), str):
                spec["body"] = spec["body"].encode()
            self.inject(spec.pop("kind"), int(spec.pop("count", 1)), **spec)
        except (ValueError, TypeError, KeyError) as exc:
            return _error(400, f"bad fault: {exc}")
        return web.json_response({"faults": len(self.faults)})

    async def _post_rotate(self, request: web.Request) -> web.Response:
        return web.json_response({"client_id": self.rotate_client_id()})


def _error(code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=code)


def _encode_cursor(offset: int) -> str:
    raw = f"{offset:08d},user-track-likes,{hashlib.md5(str(offset).encode()).hexdigest()[:12]}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    return int(raw.split(",", 1)[0])


def load_likes_file(path: str | Path) -> list[dict[str, Any]]:
    """A JSON list of like dicts or make_like specs (or {"collection": [...]})."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("collection", [])
    if not isinstance(data, list):
        raise ValueError("expected a JSON list of likes")
    return [like_from_spec(x) for x in data]


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeSoundCloud(client_id=args.client_id, username=args.username, user_id=args.user_id,
                          host=args.host, port=args.port, block_bots=not args.allow_any_agent,
                          likes_file=args.likes)
    fake._maybe_reload()
    await fake.start()
    print(json.dumps({"base_url": fake.base_url, "api_base": fake.api_base,
                      "web_base": fake.web_base, "client_id": fake.client_id,
                      "username": fake.username, "user_id": fake.user_id,
                      "likes": len(fake.likes)}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    """CLI: serve likes from a JSON file (re-read when it changes) until SIGINT/SIGTERM."""
    p = argparse.ArgumentParser(prog="python -m tests.support.fake_soundcloud",
                                description=main.__doc__)
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--likes", help="JSON file: list of like dicts or make_like specs")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--username", default="nicktherat")
    p.add_argument("--user-id", type=int, default=1_234_567)
    p.add_argument("--allow-any-agent", action="store_true", help="no fake anti-bot 403")
    args = p.parse_args(argv)
    if args.likes:
        try:
            load_likes_file(args.likes)  # fail fast on a bad file
        except (OSError, ValueError, TypeError) as exc:
            p.error(f"--likes {args.likes}: {exc}")
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
