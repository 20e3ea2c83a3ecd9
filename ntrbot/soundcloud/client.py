"""Async SoundCloud api-v2 client: client_id scrape, user/track resolve and paged track likes."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from ntrbot.retry import Schedule, parse_retry_after
from ntrbot.soundcloud.errors import SoundCloudError, SoundCloudNotFound
from ntrbot.soundcloud.parse import as_id, parse_likes_page, parse_track
from ntrbot.store.models import Like, Track

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 200
BROWSER_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
_SCRIPT_SRC_RE = re.compile(r"""<script\b[^>]*?\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_CLIENT_ID_RE = re.compile(r'client_id\s*:\s*"([0-9a-zA-Z]{32})"')
_MAX_BUNDLES = 30


class SoundCloudApi(Protocol):
    """What the poller and the playlist editor need of SoundCloud (`SoundCloudClient`, or the
    demo's `sample_data.SampleSoundCloud`)."""

    requests_made: int

    async def resolve_user(self, username: str) -> int: ...

    def iter_like_pages(self, user_id: int,
                        page_size: int = ...) -> AsyncIterator[list[Like]]: ...

    async def resolve_track(self, url: str) -> Track: ...


class SoundCloudClient:
    """Client for the parts of api-v2 ntrbot needs; share one instance (it caches the client_id)."""

    def __init__(self, http: httpx.AsyncClient, *, api_base: str, web_base: str,
                 client_id: str | None = None, max_retries: int = 3, backoff_base: float = 0.5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 max_backoff: float = 30.0, max_retry_after: float = 120.0,
                 user_agent: str = BROWSER_USER_AGENT) -> None:
        self._http = http
        self.api_base = api_base.rstrip("/")
        self.web_base = web_base.rstrip("/")
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base  # retry waits: backoff_base doubling, <= max_backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._sleep = sleep
        self._headers = {"User-Agent": user_agent, "Accept": "application/json, */*;q=0.5",
                         "Accept-Language": "en-US,en;q=0.9"}
        self._client_id: str | None = client_id or None
        self._configured_client_id = bool(client_id)
        self._id_lock = asyncio.Lock()
        self.requests_made = 0
        self.scrapes = 0

    # --- public API ---------------------------------------------------------

    async def resolve_user(self, username: str) -> int:
        """The numeric id of a SoundCloud user (by name or profile URL)."""
        name = username.strip()
        url = name if name.startswith(("http://", "https://")) else (
            f"{self.web_base}/{name.strip('/')}")
        data = await self._api_json(f"{self.api_base}/resolve", {"url": url},
                                    what=f"resolve user {name!r}",
                                    not_found=f"no SoundCloud user {name!r}")
        if not isinstance(data, dict) or data.get("kind") != "user":
            raise SoundCloudError(f"resolve user {name!r}: the answer is not a user")
        user_id = as_id(data.get("id"))
        if user_id is None:
            raise SoundCloudError(f"resolve user {name!r}: the answer has no valid id")
        return user_id

    async def iter_like_pages(self, user_id: int,
                              page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[list[Like]]:
        """Pages of a user's track likes, newest first; each page is fully validated first.

        Stopping the iteration early sends no further requests. A later page can still fail
        (SoundCloudError), so a caller must not store anything before the iteration ends or it
        decides to stop.
        """
        limit = max(1, min(MAX_PAGE_SIZE, int(page_size)))
        url = f"{self.api_base}/users/{int(user_id)}/track_likes"
        params: dict[str, Any] = {"limit": limit, "linked_partitioning": 1}
        seen: set[str] = set()
        page_no = 0
        while True:
            page_no += 1
            data = await self._api_json(url, params, what=f"likes page {page_no}",
                                        not_found=f"no SoundCloud user with id {user_id}")
            likes, next_href = parse_likes_page(data, page_no)
            yield likes
            if not next_href:
                return
            url, params = self._follow(next_href), {}
            if url in seen:
                raise SoundCloudError(f"likes page {page_no}: next_href repeats an earlier page")
            seen.add(url)

    async def resolve_track(self, url: str) -> Track:
        """The track a SoundCloud track URL points at."""
        url = url.strip()
        if not url.startswith(("http://", "https://")):
            raise SoundCloudError(f"not a SoundCloud URL: {url[:100]!r}")
        data = await self._api_json(f"{self.api_base}/resolve", {"url": url},
                                    what="resolve track", not_found=f"no SoundCloud track at {url}")
        if not isinstance(data, dict) or data.get("kind") != "track":
            raise SoundCloudError(f"{url} is not a SoundCloud track")
        return parse_track(data)

    async def get_track(self, track_id: int) -> Track:
        """One track by its numeric id."""
        data = await self._api_json(f"{self.api_base}/tracks/{int(track_id)}", {},
                                    what=f"track {track_id}",
                                    not_found=f"no SoundCloud track with id {track_id}")
        if not isinstance(data, dict):
            raise SoundCloudError(f"track {track_id}: the answer is not a track")
        return parse_track(data)

    async def client_id(self) -> str:
        """The client_id in use (configured or scraped, then cached). Keep it out of logs."""
        return await self._get_client_id(stale=None)

    # --- client_id ------------------------------------------------------------

    async def _get_client_id(self, stale: str | None) -> str:
        """Cached id; scrape when none, or when the cached one is `stale` (rejected)."""
        async with self._id_lock:
            if self._client_id and self._client_id != stale:
                return self._client_id
            self._client_id = None
            new_id = await self._scrape_client_id()
            self._client_id = new_id
            self._configured_client_id = False
            return new_id

    async def _scrape_client_id(self) -> str:
        self.scrapes += 1
        page = await self._send(httpx.URL(self.web_base + "/"), "client id scrape: web page")
        if page.status_code != 200:
            raise SoundCloudError(f"client id scrape: web page answered HTTP {page.status_code}",
                                  status=page.status_code)
        bundles: list[str] = []
        for src in _SCRIPT_SRC_RE.findall(page.text):
            full = urljoin(str(page.url), html.unescape(src).strip())
            path = urlsplit(full).path
            if "/assets/" in path and path.endswith(".js") and full not in bundles:
                bundles.append(full)
        last_problem = "no script bundles on the page"
        for src in reversed(bundles[-_MAX_BUNDLES:]):
            try:
                resp = await self._send(httpx.URL(src), "client id scrape: script bundle")
            except SoundCloudError as exc:
                last_problem = str(exc)
                continue
            if resp.status_code != 200:
                last_problem = f"a script bundle answered HTTP {resp.status_code}"
                continue
            match = _CLIENT_ID_RE.search(resp.text)
            if match:
                return match.group(1)
            last_problem = f"no client_id in {len(bundles)} script bundle(s)"
        raise SoundCloudError(f"client id scrape failed: {last_problem}")

    # --- HTTP -------------------------------------------------------------------

    def _follow(self, next_href: str) -> str:
        """next_href as given; a relative one or one on another origin (proxy) goes to api_base."""
        try:
            nxt = httpx.URL(next_href)
        except (httpx.InvalidURL, TypeError):
            raise SoundCloudError("likes: next_href is not a URL") from None
        api = httpx.URL(self.api_base)
        if not nxt.is_absolute_url:
            return str(api.join(next_href))
        if (nxt.scheme, nxt.host, nxt.port) != (api.scheme, api.host, api.port):
            log.debug("next_href points at another origin; sending it to the API base instead")
            return self.api_base + nxt.raw_path.decode("ascii")
        return str(nxt)

    def _backoff(self, attempt: int) -> float:
        return Schedule(self.backoff_base, 2.0, self.max_backoff).ceiling(attempt)

    def _retry_after(self, resp: httpx.Response) -> float | None:
        return parse_retry_after(resp.headers.get("Retry-After"), cap=self.max_retry_after)

    async def _send(self, url: httpx.URL, what: str) -> httpx.Response:
        """GET with retries on timeouts, connection errors, 5xx and 429; other statuses returned."""
        attempt = 0
        while True:
            self.requests_made += 1
            try:
                resp = await self._http.get(url, headers=self._headers, follow_redirects=True)
            except httpx.TimeoutException:
                problem, delay, status = "timed out", self._backoff(attempt), None
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                problem = f"connection failed ({type(exc).__name__})"
                delay, status = self._backoff(attempt), None
            except httpx.HTTPError as exc:
                raise SoundCloudError(f"{what}: request failed ({type(exc).__name__})") from None
            else:
                self.requests_made += len(resp.history)
                status = resp.status_code
                if status == 429:
                    problem = "rate limited (HTTP 429)"
                    retry_after = self._retry_after(resp)
                    delay = self._backoff(attempt) if retry_after is None else retry_after
                elif status >= 500:
                    problem, delay = f"HTTP {status}", self._backoff(attempt)
                else:
                    return resp
            if attempt >= self.max_retries:
                raise SoundCloudError(f"{what}: {problem} (gave up after {attempt + 1} attempts)",
                                      status=status)
            log.info("SoundCloud %s: %s; retrying in %.1fs", what, problem, delay)
            await self._sleep(delay)
            attempt += 1

    async def _api_json(self, url: str, params: Mapping[str, Any], *, what: str,
                        not_found: str) -> Any:
        """GET an API URL with the client_id added; JSON body or SoundCloudError."""
        rescraped = False
        forbidden_waits = 0
        while True:
            cid = await self._get_client_id(stale=None)
            req = httpx.URL(url).copy_merge_params(dict(params)).copy_set_param("client_id", cid)
            resp = await self._send(req, what)
            status = resp.status_code
            if status in (401, 403):
                if not rescraped:
                    rescraped = True
                    log.warning("SoundCloud rejected the %s client id (HTTP %d); scraping a "
                                "fresh one", "configured" if self._configured_client_id
                                else "cached", status)
                    try:
                        new = await self._get_client_id(stale=cid)
                    except SoundCloudError as exc:
                        raise SoundCloudError(f"{what}: client id rejected (HTTP {status}) and "
                                              f"no fresh one: {exc}", status=status) from None
                    if new != cid:
                        continue
                if status == 403 and forbidden_waits < self.max_retries:
                    delay = self._backoff(forbidden_waits + 1)
                    log.info("SoundCloud %s: HTTP 403; backing off %.1fs", what, delay)
                    forbidden_waits += 1
                    await self._sleep(delay)
                    continue
                reason = ("client id rejected" if status == 401
                          else "forbidden, possibly SoundCloud's anti-bot layer")
                raise SoundCloudError(f"{what}: HTTP {status} ({reason})", status=status)
            if status == 404:
                raise SoundCloudNotFound(f"{not_found} (HTTP 404)", status=404)
            if not 200 <= status < 300:
                raise SoundCloudError(f"{what}: unexpected HTTP {status}", status=status)
            try:
                return resp.json()
            except (ValueError, RecursionError):
                raise SoundCloudError(f"{what}: the answer is not valid JSON "
                                      f"({len(resp.content)} bytes)", status=status) from None
