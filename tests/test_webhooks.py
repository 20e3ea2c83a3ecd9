"""Webhook outputs against local stand-ins for Discord's execute-webhook and a signed receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ntrbot.announcing.outputs.webhooks import (
    BACKOFF_START,
    SIGNATURE_HEADER,
    WebhookOutputs,
    discord_content,
    output_name,
)
from ntrbot.config import load_settings
from ntrbot.settings import ConfigError, Settings
from tests.support.net import free_port
from tests.support.webhook_standin import DISCORD_PATH, HOOK_PATH, SECRET, StandIn

LINE = "Now Playing: Song #1: Rattle the Grates by The Rat Kings - https://example.com/t"
MESSAGE: dict[str, Any] = {
    "type": "announce", "id": 7, "message": LINE, "show_id": 2, "position": 1,
    "track": {"position": 1, "id": 11, "title": "Rattle the Grates ünïcode",
              "artist": "The Rat Kings", "permalink_url": "https://example.com/t"},
    "announced_at": "2026-11-26T15:42:59.458317+00:00"}


@pytest.fixture
async def standin() -> AsyncIterator[StandIn]:
    s = StandIn()
    app = web.Application()
    app.router.add_post(DISCORD_PATH, s.discord)
    app.router.add_post(HOOK_PATH, s.hook)
    s.server = TestServer(app, host="127.0.0.1")
    await s.server.start_server()
    yield s
    s.release.set()
    await s.server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=10.0),
                                 follow_redirects=True) as client:
        yield client


class FakeTime:
    """An injected clock and sleep: sleeping advances the clock at once and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Updates:
    """Records update(output, state, detail) calls; `final(output)` waits for a final one."""

    FINAL = ("delivered", "failed", "expired")

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self._changed = asyncio.Event()

    def __call__(self, output: str, state: str, detail: str) -> None:
        self.calls.append((output, state, detail))
        self._changed.set()

    def states(self, output: str) -> list[str]:
        return [s for o, s, _ in self.calls if o == output]

    async def final(self, output: str, within: float = 10.0) -> tuple[str, str]:
        async def wait() -> tuple[str, str]:
            while True:
                for o, s, d in self.calls:
                    if o == output and s in self.FINAL:
                        return s, d
                self._changed.clear()
                await self._changed.wait()
        return await asyncio.wait_for(wait(), within)  # a safety net, not a time assertion


def settings(**kw: Any) -> Settings:
    values: dict[str, Any] = {"admin_token": "test-admin-token-0123456789abcdef"}
    if "webhook_urls" in kw:
        values["webhook_secret"] = SECRET
    values.update(kw)
    return Settings(**values)


def make(http: httpx.AsyncClient, t: FakeTime, timeout: float = 5.0,
         **kw: Any) -> WebhookOutputs:
    return WebhookOutputs(http, settings(**kw), clock=t.clock, sleep=t.sleep, timeout=timeout)


def refused_url(path: str = "/x") -> str:
    return f"http://127.0.0.1:{free_port()}{path}"


# --- names -----------------------------------------------------------------------

def test_names_discord_first_then_unique_webhooks(http: httpx.AsyncClient) -> None:
    out = WebhookOutputs(http, settings(
        webhook_urls=("https://hooks.example/a?token=x", "http://127.0.0.1:8080/b",
                      "https://hooks.example/c", "https://hooks.example:443/d",
                      "http://[::1]:9000/e"),
        discord_webhook_url="https://discord.com/api/webhooks/1/tok"))
    assert out.names == ["discord", "webhook:hooks.example", "webhook:127.0.0.1:8080",
                         "webhook:hooks.example-2", "webhook:hooks.example-3",
                         "webhook:[::1]:9000"]
    assert WebhookOutputs(http, settings()).names == []
    assert output_name("https://user:pw@h.example:8443/p?q=1") == "webhook:h.example:8443"


def test_signed_webhooks_need_a_secret(http: httpx.AsyncClient) -> None:
    with pytest.raises(ValueError, match="NTR_WEBHOOK_SECRET"):
        WebhookOutputs(http, Settings(admin_token="test-admin-token-0123456789abcdef",
                                      webhook_urls=("https://a.example/h",)))


# --- Discord ---------------------------------------------------------------------

async def test_discord_delivered_with_message_id(standin: StandIn,
                                                 http: httpx.AsyncClient) -> None:
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH) + "?thread_id=42")
    updates = Updates()
    out.post(MESSAGE, LINE, 30, updates)
    assert updates.calls == []  # start() only spawns the tasks
    assert await updates.final("discord") == ("delivered", "message id 1311111111111111111")
    assert updates.states("discord") == ["sent", "delivered"]
    (req,) = standin.requests
    assert req["query"] == {"thread_id": "42", "wait": "true"}
    assert json.loads(req["raw"]) == {"content": LINE, "allowed_mentions": {"parse": []}}
    assert req["headers"]["Content-Type"] == "application/json"
    assert t.sleeps == []


HOSTILE_LINE = ("Now Playing: Song #2: [free](https://evil.example) **loud** __u__ ~~s~~ `c` "
                "||spoil|| \u202eevil\u200f <@123> @everyone @here by > quote - "
                "https://soundcloud.com/rat_kings/a_b")


async def test_discord_content_is_inert_and_the_webhook_gets_the_raw_message(
        standin: StandIn, http: httpx.AsyncClient) -> None:
    """Markdown and mentions in a title are literal text on Discord, bidi controls are
    gone, the URL still links; the signed webhook still gets the announce object as is."""
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH),
               webhook_urls=(standin.url(HOOK_PATH),))
    updates = Updates()
    message = {**MESSAGE, "message": HOSTILE_LINE}
    out.post(message, HOSTILE_LINE, 30, updates)
    for name in out.names:
        assert (await updates.final(name))[0] == "delivered"
    by_kind = {r["kind"]: json.loads(r["raw"]) for r in standin.requests}
    discord = by_kind["discord"]
    assert discord["allowed_mentions"] == {"parse": []}
    assert discord["content"] == (
        "Now Playing: Song #2: \\[free\\](https://evil.example) \\*\\*loud\\*\\* "
        "\\_\\_u\\_\\_ \\~\\~s\\~\\~ \\`c\\` \\|\\|spoil\\|\\| evil \\<\\@123> "
        "\\@everyone \\@here by > quote - https://soundcloud.com/rat_kings/a_b")
    assert by_kind["hook"] == message  # the raw announce object, nothing escaped


@pytest.mark.parametrize(("line", "content"), [
    ("> quoted", "\\> quoted"), ("# heading", "\\# heading"), ("-# small", "\\-# small"),
    ("1. listed", "1\\. listed"), ("- item", "\\- item"), ("* item", "\\* item"),
    ("a - b #1 > c", "a - b #1 > c"),  # only at the start of a line do these mean anything
])
def test_discord_line_start_markdown_is_literal(line: str, content: str) -> None:
    assert discord_content(line) == content


def test_discord_content_fits_2000_characters_and_keeps_the_url() -> None:
    """A manual track (title and artist up to 200 characters each, any URL up to 2,000) can
    make a line of ~2,450 characters; Discord refuses over 2,000."""
    url = "https://example.com/" + "u" * 1680
    line = "Now Playing: Song #1: " + "T_" * 100 + " by " + "A" * 200 + " - " + url
    assert len(line) > 2000
    content = discord_content(line)
    assert len(content) <= 2000 and content.endswith(" " + url)
    assert "…" in content
    head = content[: -len(url) - 1]
    assert not head.rstrip("…").endswith("\\") or head.rstrip("…").endswith("\\\\")
    emoji = discord_content("\U0001f3b5" * 1500 + " https://e.example/t")
    assert len(emoji.encode("utf-16-le")) // 2 <= 2000 and emoji.endswith(" https://e.example/t")
    huge = discord_content("x https://e.example/" + "u" * 2100)
    assert len(huge) <= 2000


@pytest.mark.parametrize(("retry_after", "in_body"), [(2.5, True), (0.2, True), (3.0, False)])
async def test_discord_429_waits_retry_after(standin: StandIn, http: httpx.AsyncClient,
                                             retry_after: float, in_body: bool) -> None:
    standin.script = ["429"]
    standin.retry_after, standin.retry_after_in_body = retry_after, in_body
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 30, updates)
    assert (await updates.final("discord"))[0] == "delivered"
    assert len(standin.requests) == 2
    assert len(t.sleeps) == 1 and t.sleeps[0] >= retry_after
    if in_body:  # the body's exact float, not the header's rounded-up seconds
        assert t.sleeps[0] == pytest.approx(retry_after)
    assert ("discord", "sent", "retry 1 after HTTP 429") in updates.calls


async def test_discord_429_longer_than_freshness_expires(standin: StandIn,
                                                         http: httpx.AsyncClient) -> None:
    standin.script = ["429"]
    standin.retry_after = 60.0
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 10, updates)
    assert await updates.final("discord") == ("expired", "HTTP 429")
    assert len(standin.requests) == 1 and t.sleeps == []


async def test_discord_500_then_200_delivered_after_backoff(standin: StandIn,
                                                            http: httpx.AsyncClient) -> None:
    standin.script = ["500", "502", "503"]
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 60, updates)
    assert (await updates.final("discord"))[0] == "delivered"
    assert len(standin.requests) == 4
    assert t.sleeps == [BACKOFF_START, 2 * BACKOFF_START, 4 * BACKOFF_START]
    assert [d for o, s, d in updates.calls if s == "sent"] == [
        "posting", "retry 1 after HTTP 500", "retry 2 after HTTP 502", "retry 3 after HTTP 503"]


async def test_discord_400_fails_at_once(standin: StandIn, http: httpx.AsyncClient) -> None:
    standin.script = ["400"]
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 60, updates)
    assert await updates.final("discord") == ("failed", "HTTP 400")
    assert len(standin.requests) == 1 and t.sleeps == []


async def test_5xx_until_stale_expires_with_last_status(standin: StandIn,
                                                        http: httpx.AsyncClient) -> None:
    standin.script = ["500"] * 20
    t = FakeTime()
    out = make(http, t, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 5, updates)
    assert await updates.final("discord") == ("expired", "HTTP 500")
    assert t.sleeps == [1.0, 2.0]  # a third wait (4 s) would start after the 5 s
    assert len(standin.requests) == 3


async def test_hanging_receiver_times_out_each_attempt_then_expires(
        standin: StandIn, http: httpx.AsyncClient) -> None:
    standin.script = ["hang"] * 20
    sent: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request)

    # Attempts are counted as the client sends them: on a loaded machine a 50 ms attempt can
    # time out before the stand-in has read its request, so the server's count may be lower.
    http.event_hooks = {"request": [count]}
    t = FakeTime()
    out = make(http, t, timeout=0.05, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 5, updates)
    assert await updates.final("discord") == ("expired", "timeout")
    assert len(sent) == 3 and t.sleeps == [1.0, 2.0]
    assert len(standin.requests) <= 3  # never more requests than attempts


async def test_hanging_receiver_attempt_is_cut_at_freshness(standin: StandIn,
                                                            http: httpx.AsyncClient) -> None:
    """With a real clock: the per-request timeout never outlasts the announce's freshness."""
    standin.script = ["hang"]
    out = WebhookOutputs(http, settings(discord_webhook_url=standin.url(DISCORD_PATH)),
                         timeout=60)
    updates = Updates()
    out.post(MESSAGE, LINE, 0.2, updates)
    assert await updates.final("discord") == ("expired", "timeout")
    await out.close()


async def test_refused_port_fails_or_expires(http: httpx.AsyncClient) -> None:
    t = FakeTime()
    out = make(http, t, discord_webhook_url=refused_url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 0, updates)  # no freshness: one attempt
    assert await updates.final("discord") == ("failed", "connection refused")
    updates = Updates()
    out.post(MESSAGE, LINE, 10, updates)
    assert await updates.final("discord") == ("expired", "connection refused")
    assert t.sleeps == [1.0, 2.0, 4.0]


async def test_one_hanging_output_does_not_hold_another(standin: StandIn,
                                                        http: httpx.AsyncClient) -> None:
    standin.script = ["hang"]  # the first request (Discord's) hangs
    t = FakeTime()
    out = make(http, t, timeout=30, discord_webhook_url=standin.url(DISCORD_PATH))
    updates = Updates()
    out.post(MESSAGE, LINE, 60, updates)
    while not standin.requests:
        await asyncio.sleep(0.01)
    hook = WebhookOutputs(http, settings(webhook_urls=(standin.url(HOOK_PATH),)),
                          clock=t.clock, sleep=t.sleep)
    hook.post(MESSAGE, LINE, 60, updates)
    name = hook.names[0]
    assert await updates.final(name) == ("delivered", "HTTP 204")
    assert updates.states("discord") == ["sent"]  # still hanging
    await out.close()  # cancels the hanging task (app shutdown)
    assert updates.states("discord") == ["sent"] and not out._tasks


async def test_two_outputs_of_one_announce_are_independent(
        standin: StandIn, http: httpx.AsyncClient) -> None:
    standin.script = ["hang"]  # whichever posts first hangs; the other is delivered
    t = FakeTime()
    out = make(http, t, timeout=30, discord_webhook_url=standin.url(DISCORD_PATH),
               webhook_urls=(standin.url(HOOK_PATH),))
    updates = Updates()
    out.post(MESSAGE, LINE, 60, updates)
    waits = [asyncio.ensure_future(updates.final(n)) for n in out.names]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    assert [w.result()[0] for w in done] == ["delivered"]
    (hanging,) = [n for n in out.names if updates.states(n) == ["sent"]]
    assert len(standin.requests) == 2
    await out.close()
    assert updates.states(hanging) == ["sent"]
    for w in pending:
        w.cancel()


# --- signed webhooks -------------------------------------------------------------

async def test_signed_webhook_signature_over_raw_bytes(standin: StandIn,
                                                       http: httpx.AsyncClient) -> None:
    t = FakeTime()
    out = make(http, t, webhook_urls=(standin.url(HOOK_PATH),))
    updates = Updates()
    out.post(MESSAGE, LINE, 30, updates)
    name = out.names[0]
    assert name == f"webhook:127.0.0.1:{standin.server.port}"  # type: ignore[union-attr]
    assert await updates.final(name) == ("delivered", "HTTP 204")  # the receiver verified it
    (req,) = standin.requests
    assert json.loads(req["raw"]) == MESSAGE
    assert req["headers"]["Content-Type"] == "application/json"
    sig = req["headers"][SIGNATURE_HEADER]
    assert sig == "sha256=" + hmac.new(SECRET.encode(), req["raw"], hashlib.sha256).hexdigest()
    # the signature is over those exact bytes: re-encoding the same JSON another way breaks it
    other = json.dumps(json.loads(req["raw"])).encode()
    assert other != req["raw"]
    assert sig != "sha256=" + hmac.new(SECRET.encode(), other, hashlib.sha256).hexdigest()


async def test_signed_webhook_wrong_secret_fails_at_once(standin: StandIn,
                                                         http: httpx.AsyncClient) -> None:
    t = FakeTime()
    out = make(http, t, webhook_urls=(standin.url(HOOK_PATH),),
               webhook_secret="another-secret-0123456789")
    updates = Updates()
    out.post(MESSAGE, LINE, 30, updates)
    assert await updates.final(out.names[0]) == ("failed", "HTTP 401")
    assert len(standin.requests) == 1


async def test_signed_webhook_retried_with_same_signed_body(standin: StandIn,
                                                            http: httpx.AsyncClient) -> None:
    standin.script = ["503"]
    t = FakeTime()
    out = make(http, t, webhook_urls=(standin.url(HOOK_PATH),))
    updates = Updates()
    out.post(MESSAGE, LINE, 30, updates)
    assert (await updates.final(out.names[0]))[0] == "delivered"
    a, b = standin.requests
    assert a["raw"] == b["raw"] and a["headers"][SIGNATURE_HEADER] == b["headers"][
        SIGNATURE_HEADER]
    assert t.sleeps == [BACKOFF_START]


# --- secrets stay out of logs ----------------------------------------------------

async def test_no_url_in_logs_or_details(standin: StandIn, http: httpx.AsyncClient,
                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="ntrbot")
    standin.script = ["500", "hang", "429"]
    t = FakeTime()
    out = make(http, t, timeout=0.05, discord_webhook_url=standin.url(DISCORD_PATH),
               webhook_urls=(refused_url(HOOK_PATH),))
    updates = Updates()
    out.post(MESSAGE, LINE, 60, updates)
    for name in out.names:
        await updates.final(name)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("ntrbot")]
    assert any("discord" in m for m in ours) and any("webhook:127.0.0.1" in m for m in ours)
    text = "\n".join(ours + [d for _, _, d in updates.calls])
    for secret in ("s3cr3t", "/api/webhooks", "/hooks/", SECRET):
        assert secret not in text


# --- settings ---------------------------------------------------------------------

BASE = {"NTR_ADMIN_TOKEN": "tok-0123456789abcdef"}


def test_webhook_settings_parse_and_mask() -> None:
    s = load_settings({**BASE, "NTR_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/t",
                       "NTR_WEBHOOK_URLS": " https://a.example/h , http://127.0.0.1:9/x,",
                       "NTR_WEBHOOK_SECRET": SECRET})
    assert s.webhook_urls == ("https://a.example/h", "http://127.0.0.1:9/x")
    masked = s.masked()
    assert masked["NTR_DISCORD_WEBHOOK_URL"] == masked["NTR_WEBHOOK_URLS"] == "***"
    assert masked["NTR_WEBHOOK_SECRET"] == "***"
    assert "a.example" not in repr(masked) and "discord.com" not in repr(masked)
    d = load_settings(BASE)
    assert (d.discord_webhook_url, d.webhook_urls, d.webhook_secret) == (None, (), None)
    assert d.masked()["NTR_WEBHOOK_URLS"] == ""


@pytest.mark.parametrize(("env", "setting", "words"), [
    ({"NTR_DISCORD_WEBHOOK_URL": "ftp://discord.com/x"}, "NTR_DISCORD_WEBHOOK_URL", "http(s)"),
    ({"NTR_DISCORD_WEBHOOK_URL": "discord.com/api/webhooks/1/t"}, "NTR_DISCORD_WEBHOOK_URL",
     "http(s)"),
    ({"NTR_DISCORD_WEBHOOK_URL": "https://"}, "NTR_DISCORD_WEBHOOK_URL", "http(s)"),
    ({"NTR_WEBHOOK_URLS": "https://a.example/h,javascript:alert(1)",
      "NTR_WEBHOOK_SECRET": SECRET}, "NTR_WEBHOOK_URLS", "entry 2"),
    ({"NTR_WEBHOOK_URLS": "https://a.example:99999/h", "NTR_WEBHOOK_SECRET": SECRET},
     "NTR_WEBHOOK_URLS", "entry 1"),
    ({"NTR_WEBHOOK_URLS": "https://a.example/h"}, "NTR_WEBHOOK_SECRET", "NTR_WEBHOOK_URLS"),
    ({"NTR_WEBHOOK_URLS": "https://a.example/h", "NTR_WEBHOOK_SECRET": "short"},
     "NTR_WEBHOOK_SECRET", "16"),
    ({"NTR_WEBHOOK_SECRET": "x" * 15}, "NTR_WEBHOOK_SECRET", "16"),
])
def test_bad_webhook_settings_are_one_line(env: dict[str, str], setting: str,
                                           words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({**BASE, **env})
    message = str(info.value)
    assert message.startswith(setting + ":") and "\n" not in message and words in message
    assert "a.example" not in message and "discord.com" not in message  # never the URL


def test_check_config_masks_webhooks(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch,
                                     make_settings: Callable[..., Settings]) -> None:
    from ntrbot.tools import cli

    env = {**BASE, "NTR_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/s3cr3t",
           "NTR_WEBHOOK_URLS": "https://a.example/s3cr3t", "NTR_WEBHOOK_SECRET": SECRET}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code = cli.main(["check-config"])
    out = capsys.readouterr()
    assert code == 0
    assert "NTR_WEBHOOK_URLS" in out.out
    assert "s3cr3t" not in out.out + out.err and SECRET not in out.out + out.err
