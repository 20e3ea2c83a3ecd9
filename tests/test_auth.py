"""Unit tests for ntrbot.http.auth: password hashes, the session key, throttling, checks."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from cryptography.fernet import Fernet

from ntrbot.app import create_app
from ntrbot.attempts import LoginThrottle
from ntrbot.http.auth import (
    SessionStorage,
    bearer_ok,
    fernet_key,
    hash_password,
    is_password_hash,
    request_is_https,
    same_origin,
    verify_password,
)
from ntrbot.settings import Settings

REPO = Path(__file__).resolve().parents[1]


def test_hash_and_verify() -> None:
    stored = hash_password("s3cret pässword")
    assert stored.startswith("scrypt$16384$8$1$")
    assert is_password_hash(stored)
    assert "s3cret" not in stored
    assert verify_password(stored, "s3cret pässword")
    assert not verify_password(stored, "s3cret password")
    assert not verify_password(stored, "")
    assert hash_password("x") != hash_password("x")  # salted


def test_verify_plain_and_garbage() -> None:
    assert verify_password("plain-pw", "plain-pw")
    assert not verify_password("plain-pw", "plain-pw ")
    assert not verify_password("scrypt$x$8$1$AAAA$BBBB", "anything")
    assert not verify_password("scrypt$999999999$8$1$AAAA$BBBB", "anything")  # no huge n


def test_fernet_key_is_44_urlsafe_chars_and_stable() -> None:
    key = fernet_key("a" * 32)
    assert isinstance(key, str) and len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert key == fernet_key("a" * 32)
    assert key != fernet_key("b" * 32)
    token = Fernet(key).encrypt(b"hi")
    assert Fernet(key).decrypt(token) == b"hi"


def test_failures_from_other_addresses_never_lock_the_host_out() -> None:
    t = LoginThrottle(window=60, clock=lambda: 1000.0)
    for client in (f"10.0.0.{i}" for i in range(40)):  # 200 wrong passwords, 40 addresses
        for _ in range(5):
            assert t.reserve(client) == 0
    assert t.retry_after("10.0.0.1") > 0  # each of them waits
    assert t.reserve("192.0.2.7") == 0  # the host, from its own address, gets in


def test_throttle_per_client_and_overall() -> None:
    now = [1000.0]
    t = LoginThrottle(per_client=5, overall=8, window=60, clock=lambda: now[0])
    for _ in range(5):
        assert t.retry_after("a") == 0
        t.failed("a")
    assert 59 <= t.retry_after("a") <= 60
    assert t.retry_after("b") == 0  # another client is not blocked by a's failures
    for _ in range(3):
        t.failed("b")
    assert t.retry_after("c") > 0  # 8 failures overall: everyone waits
    now[0] += 61
    assert t.retry_after("a") == 0 and t.retry_after("c") == 0
    t.failed("a")
    t.succeeded("a")
    assert t.retry_after("a") == 0


_SETTINGS = Settings(admin_token="t" * 32)


def _transport(peer: str) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 40000) if name == "peername" else default)
    return transport


def _req(headers: dict[str, str], method: str = "POST", peer: str = "127.0.0.1") -> Any:
    return make_mocked_request(method, "/admin/announce", transport=_transport(peer),
                               app=create_app(_SETTINGS),
                               headers={"Host": "ntr.example:8000", **headers})


def test_same_origin() -> None:
    assert same_origin(_req({"Origin": "http://ntr.example:8000"}))
    # only the request's own scheme: https per X-Forwarded-Proto from a trusted proxy
    assert not same_origin(_req({"Origin": "https://ntr.example:8000"}))
    assert same_origin(_req({"Origin": "https://ntr.example:8000", "X-Forwarded-Proto": "https"}))
    assert not same_origin(_req({"Origin": "http://ntr.example:8000",
                                 "X-Forwarded-Proto": "https"}))
    assert not same_origin(_req({"Origin": "https://ntr.example:8000",
                                 "X-Forwarded-Proto": "https"}, peer="203.0.113.9"))
    assert not same_origin(_req({"Origin": "http://evil.example"}))
    assert not same_origin(_req({"Origin": "null"}))
    assert not same_origin(_req({"Origin": "http://ntr.example:8001"}))
    assert same_origin(_req({"Referer": "http://ntr.example:8000/dashboard"}))
    assert not same_origin(_req({"Referer": "http://evil.example/x"}))
    assert same_origin(_req({}))  # not a browser: no CSRF possible


def test_bearer_ok() -> None:
    assert bearer_ok(_req({"Authorization": "Bearer tok"}), "tok") is True
    assert bearer_ok(_req({"Authorization": "bearer  tok "}), "tok") is True
    assert bearer_ok(_req({"Authorization": "Bearer nope"}), "tok") is False
    assert bearer_ok(_req({"Authorization": "Basic dG9rOg=="}), "tok") is False
    assert bearer_ok(_req({"Authorization": "Bearer"}), "tok") is False
    assert bearer_ok(_req({}), "tok") is None


def test_https_detection() -> None:
    assert not request_is_https(_req({}))
    assert request_is_https(_req({"X-Forwarded-Proto": "https"}))
    assert request_is_https(_req({"X-Forwarded-Proto": "HTTPS, http"}))
    # only a trusted proxy (NTR_TRUSTED_PROXIES, loopback by default) may say so
    assert not request_is_https(_req({"X-Forwarded-Proto": "https"}, peer="203.0.113.9"))


def test_null_origin_only_where_allowed() -> None:
    # Chromium sends `Origin: null` for this site's own form posts under no-referrer.
    assert not same_origin(_req({"Origin": "null"}))
    assert same_origin(_req({"Origin": "null"}), allow_null=True)
    assert not same_origin(_req({"Origin": "http://evil.example"}), allow_null=True)


# --- the session storage builds its Fernet only for a cookie --------------------------------

SECRET = "s" * 32


def _request(cookie: str | None = None) -> Any:
    headers = {"Cookie": f"ntr_session={cookie}"} if cookie else {}
    return make_mocked_request("GET", "/dashboard", headers=headers)


async def test_no_cookie_needs_no_encryption() -> None:
    storage = SessionStorage(SECRET, "false")
    session = await storage.load_session(_request())
    assert session.new and session.empty
    assert storage._encrypted is None
    response = web.Response()
    await storage.save_session(_request(), response, session)  # empty: clears, no crypto
    assert response.cookies["ntr_session"].value == ""
    assert storage._encrypted is None


async def test_cookie_round_trip_is_fernet_with_the_derived_key() -> None:
    storage = SessionStorage(SECRET, "false")
    session = await storage.load_session(_request())
    session["user"] = "host"
    response = web.Response()
    await storage.save_session(_request(), response, session)
    morsel = response.cookies["ntr_session"]
    assert morsel["httponly"] is True and morsel["samesite"] == "Strict"
    assert not morsel["secure"] and int(morsel["max-age"]) == 24 * 3600
    token = morsel.value
    assert json.loads(Fernet(fernet_key(SECRET)).decrypt(token.encode()))["session"] == {
        "user": "host"}
    # a fresh storage (a restarted process) reads it back
    again = await SessionStorage(SECRET).load_session(_request(token))
    assert not again.new and again["user"] == "host"
    # another key, or a tampered cookie: a new empty session, no error
    other = await SessionStorage("t" * 32).load_session(_request(token))
    assert other.new and other.empty
    tampered = await SessionStorage(SECRET).load_session(_request(token[:-4] + "AAAA"))
    assert tampered.new and tampered.empty


async def test_secure_auto_marks_cookie_secure_behind_https() -> None:
    storage = SessionStorage(SECRET, "auto")
    session = await storage.load_session(_request())
    session["user"] = "host"
    response = web.Response()
    https = make_mocked_request("GET", "/", headers={"X-Forwarded-Proto": "https"},
                                transport=_transport("127.0.0.1"), app=create_app(_SETTINGS))
    await storage.save_session(https, response, session)
    assert response.cookies["ntr_session"]["secure"] is True


def test_a_fresh_process_does_not_load_cryptography(tmp_path: Path) -> None:
    """Importing the app and mounting the dashboard leaves `cryptography` unloaded (~9 MB)."""
    code = (
        "import sys\n"
        "from ntrbot.app import create_app\n"
        "from ntrbot.config_checks import validate\n"
        "from ntrbot.settings import Settings\n"
        f"s = Settings(admin_token='t' * 32, db_path={str(tmp_path / 'x.db')!r},\n"
        "             web_user='host', web_password='pw', secret_key='k' * 32)\n"
        "validate(s)\n"
        "assert s.dashboard_enabled\n"
        "create_app(s)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'cryptography'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
