"""Unit tests for ntrbot.auth: password hashes, the session key, throttling, checks."""

from __future__ import annotations

import base64

from aiohttp.test_utils import make_mocked_request
from cryptography.fernet import Fernet

from ntrbot.auth import (
    LoginThrottle,
    bearer_ok,
    fernet_key,
    hash_password,
    is_password_hash,
    request_is_https,
    same_origin,
    verify_password,
)


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


def _req(headers: dict[str, str], method: str = "POST") -> object:
    return make_mocked_request(method, "/admin/announce",
                               headers={"Host": "ntr.example:8000", **headers})


def test_same_origin() -> None:
    assert same_origin(_req({"Origin": "http://ntr.example:8000"}))
    assert same_origin(_req({"Origin": "https://ntr.example:8000"}))
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


def test_null_origin_only_where_allowed() -> None:
    # Chromium sends `Origin: null` for this site's own form posts under no-referrer.
    assert not same_origin(_req({"Origin": "null"}))
    assert same_origin(_req({"Origin": "null"}), allow_null=True)
    assert not same_origin(_req({"Origin": "http://evil.example"}), allow_null=True)
