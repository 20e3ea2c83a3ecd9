"""Discord and signed JSON webhooks as announce outputs: one task each, retried while fresh."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from ntrbot.announcing.outputs import Airing, stopped
from ntrbot.deliveries import DeliveryState, OutputKind
from ntrbot.irc.lines import ELLIPSIS
from ntrbot.retry import Schedule, parse_retry_after
from ntrbot.text import clean

if TYPE_CHECKING:
    from ntrbot.settings import Settings
    from ntrbot.store.models import OutputDelivery

log = logging.getLogger(__name__)

#: The header carrying the HMAC-SHA256 of the raw body of a signed webhook.
SIGNATURE_HEADER = "X-Ntrbot-Signature"
#: One request never takes longer than this (nor longer than the announce stays fresh).
REQUEST_TIMEOUT = 10.0
#: Retry waits: BACKOFF_START, doubling, at most BACKOFF_MAX seconds (a 429 says its own).
BACKOFF_START = 1.0
BACKOFF_MAX = 30.0
_BACKOFF = Schedule(BACKOFF_START, 2.0, BACKOFF_MAX)
#: The shortest wait before a retry, even when a 429 says `retry_after: 0`.
MIN_WAIT = 0.05

Update = Callable[[str, DeliveryState, str], None]

#: Discord refuses a message whose content is longer (in characters).
DISCORD_MAX_CONTENT = 2000
_DISCORD_INLINE = re.compile(r"([\\*_~`|\[\]<@])")
_DISCORD_LINE_START = re.compile(r"(?m)^(\s*|\s*\d+)((?<!\d)[>#+-]|(?<=\d)[.)])")
_TRAILING_URL = re.compile(r"(?:^|\s)(https?://\S+)$")
_DISCORD_URL_UNSAFE = re.compile(r'[<>"`|{}^\\]')


def sign(secret: str, body: bytes) -> str:
    """The X-Ntrbot-Signature value for `body`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut_utf16(text: str, units: int) -> str:
    """The longest prefix of `text` of at most `units` UTF-16 code units (Discord counts
    characters as JavaScript does), never ending inside an escape (an odd run of `\\`)."""
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            break
        out.append(ch)
    cut = "".join(out)
    trailing = len(cut) - len(cut.rstrip("\\"))
    return cut[:-1] if trailing % 2 else cut


def discord_escape(text: str) -> str:
    """`text` with Discord's Markdown made literal: every inline marker (bold, italics,
    underline, strike, spoiler, code, masked links `[x](url)`, mentions `<@id>`,
    `@everyone`/`@here`) backslash-escaped, and a quote, heading or list at a line start."""
    text = _DISCORD_INLINE.sub(r"\\\1", text)
    return _DISCORD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def discord_content(line: str) -> str:
    """The announce line as a Discord message: cleaned (one line, no control or bidi
    characters), Markdown escaped, at most DISCORD_MAX_CONTENT characters. A trailing URL
    is kept whole (and unescaped, so Discord still links it; characters that are never
    literal in a URL are percent-encoded) and the text before it is cut with an ellipsis."""
    line = clean(line)
    m = _TRAILING_URL.search(line)
    head, url = (line[:m.start(1)].rstrip(), _DISCORD_URL_UNSAFE.sub(
        lambda c: f"%{ord(c.group()):02X}", m.group(1))) if m else (line, "")
    text = discord_escape(head)
    tail = (" " + url) if text and url else url
    if _utf16_len(text) + _utf16_len(tail) <= DISCORD_MAX_CONTENT:
        return text + tail
    room = DISCORD_MAX_CONTENT - _utf16_len(tail) - len(ELLIPSIS)
    if room < 0:  # a URL longer than the whole message: cut everything
        return _cut_utf16(text + tail, DISCORD_MAX_CONTENT - len(ELLIPSIS)) + ELLIPSIS
    return _cut_utf16(text, room).rstrip() + ELLIPSIS + tail


def discord_execute_url(url: str) -> httpx.URL:
    """The execute-webhook URL with `wait=true` (so Discord answers with the message)."""
    return httpx.URL(url).copy_set_param("wait", "true")


def output_name(url: str) -> str:
    """`webhook:<host[:port]>`: what logs, deliveries and /health may say of a webhook URL."""
    u = httpx.URL(url)
    host = f"[{u.host}]" if ":" in u.host else u.host
    return f"webhook:{host}" + (f":{u.port}" if u.port is not None else "")


@dataclass(frozen=True)
class _Target:
    name: str
    url: httpx.URL
    discord: bool


@dataclass(frozen=True)
class _Outcome:
    """One attempt: `state` "delivered", "failed" (final at once) or "retry" (after `wait`)."""

    state: str
    detail: str
    wait: float | None = None  # a 429's own wait; None: the backoff's


class WebhookOutputs:
    """Discord and signed JSON webhooks as announce outputs; one task per output per announce.

    `start` spawns the tasks and returns at once: a slow or dead webhook never delays IRC,
    the relays, the answer, or another webhook. Each task reports `sent` when it makes a
    request, then `delivered` (2xx), `failed` (4xx but 429: at once; the last status when
    the announce had no freshness left to retry in) or `expired` (still retrying when
    `fresh_for` seconds have passed). URLs are never logged nor put in a detail: they hold
    the webhooks' secrets; only the output names are.
    """

    def __init__(self, http: httpx.AsyncClient, settings: Settings, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 timeout: float = REQUEST_TIMEOUT) -> None:
        if settings.webhook_urls and not settings.webhook_secret:
            raise ValueError("NTR_WEBHOOK_URLS needs NTR_WEBHOOK_SECRET")  # never sign with ""
        self.http = http
        self.secret = settings.webhook_secret or ""
        self.timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._tasks: set[asyncio.Task[None]] = set()
        self._targets: list[_Target] = []
        if settings.discord_webhook_url:
            self._targets.append(_Target("discord", discord_execute_url(
                settings.discord_webhook_url), True))
        taken = {t.name for t in self._targets}
        for url in settings.webhook_urls:
            base = name = output_name(url)
            n = 1
            while name in taken:
                n += 1
                name = f"{base}-{n}"
            taken.add(name)
            self._targets.append(_Target(name, httpx.URL(url), False))

    @property
    def names(self) -> list[str]:
        """The output names, in order: `discord` first if configured, then each webhook."""
        return [t.name for t in self._targets]

    kinds: tuple[OutputKind, ...] = (OutputKind.DISCORD, OutputKind.WEBHOOK)

    async def start(self, airing: Airing, update: Update) -> None:
        """The announce to every webhook (`post`), each in its own task."""
        self.post(airing.message, airing.line, airing.fresh_for, update)

    def settles_when_sent(self, delivery: OutputDelivery) -> bool:
        return False  # a request ends delivered, failed or expired

    def cut_off(self, delivery: OutputDelivery) -> tuple[DeliveryState, str] | None:
        return stopped(delivery)

    def post(self, message: dict[str, Any], line: str, fresh_for: float,
             update: Update) -> None:
        """Post `line` to Discord and `message` to each signed webhook, each in its own task.

        Never awaits: returns as soon as the tasks exist. `update(output, state, detail)`
        is called by the tasks as each delivery changes.
        """
        if not self._targets:
            return
        deadline = self._clock() + max(fresh_for, 0.0)
        discord_body = json.dumps({"content": discord_content(line),
                                   "allowed_mentions": {"parse": []}},
                                  ensure_ascii=False).encode("utf-8")
        signed_body = json.dumps(message, ensure_ascii=False, separators=(",", ":"),
                                 default=str).encode("utf-8")
        for target in self._targets:
            if target.discord:
                body, headers = discord_body, {"Content-Type": "application/json"}
            else:
                body = signed_body
                headers = {"Content-Type": "application/json",
                           SIGNATURE_HEADER: sign(self.secret, signed_body)}
            task = asyncio.create_task(
                self._deliver(target, body, headers, deadline, fresh_for > 0, update),
                name=f"ntrbot {target.name}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel every running delivery (app shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, target: _Target, body: bytes, headers: dict[str, str],
                       deadline: float, fresh: bool, update: Update) -> None:
        backoffs = 0  # retries that waited the backoff (not a 429's own wait)
        attempt = 0
        last = ""
        while True:
            attempt += 1
            remaining = deadline - self._clock()
            if attempt > 1 and remaining <= 0:  # slept past the deadline
                return self._end(target, update, DeliveryState.EXPIRED, last)
            update(target.name, DeliveryState.SENT, "posting" if attempt == 1
                   else f"retry {attempt - 1} after {last}")
            limit = min(self.timeout, remaining) if remaining > 0 else self.timeout
            try:
                outcome = await self._attempt(target, body, headers, limit)
            except Exception as exc:  # a bug here must not kill silently, nor leak the URL
                log.error("%s: cannot post (%s)", target.name, type(exc).__name__)
                return self._end(target, update, DeliveryState.FAILED, "internal error")
            if outcome.state != "retry":
                return self._end(target, update, outcome.state, outcome.detail)
            last = outcome.detail
            if outcome.wait is None:
                wait = _BACKOFF.ceiling(backoffs)
                backoffs += 1
            else:
                wait = max(outcome.wait, MIN_WAIT)
            if wait >= deadline - self._clock():  # the next attempt would start too late
                # no freshness at all (fresh_for 0): one attempt, and it did not land
                return self._end(target, update, DeliveryState.EXPIRED if fresh
                                 else DeliveryState.FAILED, last)
            log.info("%s: %s; retry in %.1f s", target.name, last, wait)
            await self._sleep(wait)

    def _end(self, target: _Target, update: Update, state: str, detail: str) -> None:
        log.debug("%s: %s (%s)", target.name, state, detail)  # the announcer logs it too
        update(target.name, DeliveryState(state), detail)

    async def _attempt(self, target: _Target, body: bytes, headers: dict[str, str],
                       seconds: float) -> _Outcome:
        try:
            resp = await self.http.post(target.url, content=body, headers=headers,
                                        timeout=httpx.Timeout(seconds),
                                        follow_redirects=False)
        except httpx.TimeoutException:
            return _Outcome("retry", "timeout")
        except httpx.ConnectError as exc:
            return _Outcome("retry", "connection refused" if _refused(exc) else "cannot connect")
        except httpx.TransportError as exc:
            return _Outcome("retry", f"network error ({type(exc).__name__})")
        status = resp.status_code
        if 200 <= status < 300:
            return _Outcome(DeliveryState.DELIVERED, self._delivered_detail(target, resp))
        if status == 429:
            return _Outcome("retry", "HTTP 429", _retry_after(resp))
        if status >= 500 or status == 408:
            return _Outcome("retry", f"HTTP {status}")
        return _Outcome(DeliveryState.FAILED, f"HTTP {status}")

    @staticmethod
    def _delivered_detail(target: _Target, resp: httpx.Response) -> str:
        if target.discord:
            try:
                data = resp.json()
            except ValueError:
                data = None
            if isinstance(data, dict) and isinstance(data.get("id"), str | int):
                return f"message id {data['id']}"
        return f"HTTP {resp.status_code}"


def _refused(exc: BaseException) -> bool:
    """Whether a connect error was a refusal (port closed), anywhere in its causes."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionRefusedError):
            return True
        if isinstance(cur, OSError) and cur.errno == errno.ECONNREFUSED:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _retry_after(resp: httpx.Response) -> float | None:
    """A 429's wait in seconds: Discord's JSON `retry_after`, else the Retry-After header."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    in_body = parse_retry_after(data.get("retry_after")) if isinstance(data, dict) else None
    return parse_retry_after(resp.headers.get("Retry-After")) if in_body is None else in_body
