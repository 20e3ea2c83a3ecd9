"""Passwords, session keys, login throttling, admin checks and security headers."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from aiohttp import web
from aiohttp_session import STORAGE_KEY, AbstractStorage, Session, get_session

from ntrbot.http.clientaddr import client_address, forwarded_https
from ntrbot.http.headers import add_security_headers
from ntrbot.http.helpers import json_exception
from ntrbot.http.throttle import token_throttle, too_many
from ntrbot.keys import REVOKED, SETTINGS

log = logging.getLogger(__name__)
COOKIE_NAME = "ntr_session"
SESSION_MAX_AGE = 24 * 3600
SESSION_USER = "user"
SESSION_ID = "sid"
SESSION_CREDENTIALS = "cred"

# --- passwords ---------------------------------------------------------------

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash` (salt and hash urlsafe base64 without padding)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R,
                            p=_SCRYPT_P, maxmem=_SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def is_password_hash(stored: str) -> bool:
    return stored.startswith("scrypt$") and stored.count("$") == 5


def verify_password(stored: str, given: str) -> bool:
    """Check `given` against a hash from `hash_password` or a plain stored password."""
    given_b = given.encode("utf-8")
    if not is_password_hash(stored):
        return hmac.compare_digest(stored.encode("utf-8"), given_b)
    try:
        _, n, r, p, salt, digest = stored.split("$")
        n_i, r_i, p_i = int(n), int(r), int(p)
        if not (2 <= n_i <= 2**20 and 1 <= r_i <= 32 and 1 <= p_i <= 16):
            return False
        want = _unb64(digest)
        got = hashlib.scrypt(given_b, salt=_unb64(salt), n=n_i, r=r_i, p=p_i,
                             maxmem=_SCRYPT_MAXMEM, dklen=len(want) or 32)
    except (ValueError, TypeError, MemoryError):
        return False
    return hmac.compare_digest(got, want)


# --- session encryption key ------------------------------------------------

def fernet_key(secret: str) -> str:
    """The 44-character urlsafe-base64 Fernet key derived (HKDF-SHA256) from NTR_SECRET_KEY."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ntrbot-session-v1",
               info=b"aiohttp-session fernet key").derive(secret.encode("utf-8"))
    return base64.urlsafe_b64encode(raw).decode("ascii")


def request_is_https(request: web.Request) -> bool:
    """True when the request came over https, directly or per X-Forwarded-Proto from a
    trusted proxy (NTR_TRUSTED_PROXIES)."""
    return request.secure or forwarded_https(request)


class SessionStorage(AbstractStorage):
    """Encrypted cookie `ntr_session`: HttpOnly, SameSite=Strict, Secure per setting.

    aiohttp-session's EncryptedCookieStorage (Fernet, from `cryptography`) does the work, but
    is built on the first cookie that has to be decrypted or encrypted: `cryptography`'s
    extension carries its own OpenSSL and costs ~9 MB resident, which a bot nobody has logged
    into this week (and every visitor without a cookie) has no use for.
    """

    def __init__(self, secret: str, cookie_secure: str = "auto",
                 max_age: int = SESSION_MAX_AGE) -> None:
        self._options: dict[str, Any] = dict(
            cookie_name=COOKIE_NAME, max_age=max_age, httponly=True, samesite="Strict",
            secure=True if cookie_secure == "true" else None)
        super().__init__(**self._options)
        self._secret = secret
        self._secure_mode = cookie_secure
        self._encrypted: AbstractStorage | None = None

    def _fernet_storage(self) -> AbstractStorage:
        if self._encrypted is None:
            from aiohttp_session.cookie_storage import EncryptedCookieStorage

            self._encrypted = EncryptedCookieStorage(fernet_key(self._secret), **self._options)
        return self._encrypted

    async def load_session(self, request: web.Request) -> Session:
        if self.load_cookie(request) is None:
            return Session(None, data=None, new=True, max_age=self.max_age)
        return await self._fernet_storage().load_session(request)

    async def save_session(self, request: web.Request, response: web.StreamResponse,
                           session: Session) -> None:
        if session.empty:  # log out: clear the cookie, nothing to encrypt
            self.save_cookie(response, "", max_age=session.max_age)
        else:
            await self._fernet_storage().save_session(request, response, session)
        morsel = response.cookies.get(COOKIE_NAME)
        if morsel is not None and self._secure_mode == "auto" and request_is_https(request):
            morsel["secure"] = True


def has_sessions(request: web.Request) -> bool:
    return request.get(STORAGE_KEY) is not None


def credentials_fingerprint(settings: Any) -> str:
    """Changes when NTR_WEB_USER, NTR_WEB_PASSWORD or NTR_SECRET_KEY change: old sessions end."""
    material = f"{settings.web_user}\0{settings.web_password}".encode()
    return hmac.new((settings.secret_key or "").encode(), material,
                    hashlib.sha256).hexdigest()[:32]


def start_session(session: Session, settings: Any, user: str) -> None:
    """Fill a fresh session (from `new_session`) for `user`."""
    session[SESSION_USER] = user
    session[SESSION_ID] = secrets.token_urlsafe(16)
    session[SESSION_CREDENTIALS] = credentials_fingerprint(settings)
    session["login_at"] = int(time.time())


def revoke_session(request: web.Request, session: Session) -> None:
    """Log out: clear the cookie, and refuse this session id should the old cookie return.

    The revocation list lives in memory (bounded by the 24 h lifetime); after a restart a
    copied cookie would work again until it expires, as with any stateless cookie session.
    """
    revoked = request.app.get(REVOKED)
    sid = session.get(SESSION_ID)
    if revoked is not None and isinstance(sid, str):
        now = time.time()
        for old in [k for k, until in revoked.items() if until <= now]:
            del revoked[old]
        revoked[sid] = now + SESSION_MAX_AGE
    session.invalidate()


async def session_user(request: web.Request) -> str | None:
    """The logged-in dashboard user, or None (also when the dashboard is off)."""
    if not has_sessions(request):
        return None
    session = await get_session(request)
    user, sid = session.get(SESSION_USER), session.get(SESSION_ID)
    if not (isinstance(user, str) and user and isinstance(sid, str)):
        return None
    settings = request.app[SETTINGS]
    given = session.get(SESSION_CREDENTIALS)
    if not isinstance(given, str) or not hmac.compare_digest(
            given, credentials_fingerprint(settings)):
        return None
    revoked = request.app.get(REVOKED)
    if revoked is not None and sid in revoked:
        return None
    return user


# --- login checking, off the event loop (its throttle: attempts.LoginThrottle) --

HASH_SLOTS = 2  # scrypt calls at once (each ~16 MB, one core): the rest wait their turn
_HASHING: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


def _credentials_ok(settings: Any, username: Any, password: Any) -> bool:
    ok = isinstance(username, str) and isinstance(password, str)
    # Check both, always, so timing does not tell which one was wrong.
    user_ok = verify_password(settings.web_user or "", username if ok else "")
    pass_ok = verify_password(settings.web_password or "", password if ok else "")
    return ok and user_ok and pass_ok


async def check_login(settings: Any, username: Any, password: Any) -> bool:
    """The login check (scrypt) in a worker thread, at most HASH_SLOTS at once."""
    loop = asyncio.get_running_loop()
    slots = _HASHING.get(loop)
    if slots is None:
        slots = _HASHING[loop] = asyncio.Semaphore(HASH_SLOTS)
    async with slots:
        return await loop.run_in_executor(None, _credentials_ok, settings, username, password)


# --- same-origin checks ------------------------------------------------------

def _site_origins(request: web.Request) -> set[str]:
    """This site's origins: the request's own scheme (behind a trusted proxy, the one its
    X-Forwarded-Proto says) with its Host, and NTR_PUBLIC_URL's. An http page may not
    post to the https site, nor the other way round."""
    host = request.host.lower()
    origins = {f"{'https' if request_is_https(request) else 'http'}://{host}"}
    public_url = request.app[SETTINGS].public_url
    if public_url:
        parts = urlsplit(public_url)
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def same_origin(request: web.Request, *, allow_null: bool = False) -> bool:
    """False when Origin (or, lacking it, Referer) names another site.

    A request with neither header is not from a browser page (browsers send Origin on
    every POST and WebSocket handshake), so it cannot be a cross-site forgery.
    `allow_null` accepts `Origin: null`, which Chromium sends for this site's own form
    posts under `Referrer-Policy: no-referrer`; only /login and /logout allow it (login
    needs no cookie, and a cross-site post never carries the SameSite=Strict cookie).
    """
    origin = request.headers.get("Origin")
    if allow_null and origin is not None and origin.strip() == "null":
        return True
    if origin is None:
        referer = request.headers.get("Referer")
        if not referer:
            return True
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    return origin.strip().lower() in _site_origins(request)


# --- admin checks --------------------------------------------------------------

def bearer_token(request: web.Request) -> str | None:
    """The bearer token given ("" when malformed), None when there is no Authorization."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, given = header.partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def token_matches(given: str, tokens: Iterable[str]) -> bool:
    """Constant-time: is `given` one of `tokens` (all compared, whatever matches)."""
    data = given.encode("utf-8")
    found = False
    for token in tokens:
        found |= hmac.compare_digest(data, token.encode("utf-8"))
    return found and bool(data)


def bearer_ok(request: web.Request, token: str) -> bool | None:
    """True/False for a right/wrong bearer token, None when there is no Authorization."""
    given = bearer_token(request)
    if given is None:
        return None
    return token_matches(given, (token,))


STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bearer_identity(request: web.Request, given: str, *, metrics: bool = False) -> str:
    """"token" for the admin token ("metrics" for the metrics token when `metrics`: the
    /metrics route); 403 for a relay or metrics token elsewhere; 429/401 (counted)
    otherwise."""
    settings = request.app[SETTINGS]
    client = client_address(request)
    throttle = token_throttle(request.app)
    wait = throttle.retry_after(client)
    if wait > 0:  # checked before comparing: a throttled client learns nothing
        raise too_many(wait, "too many wrong tokens")
    if token_matches(given, (settings.admin_token,)):
        return "token"
    if settings.metrics_token and token_matches(given, (settings.metrics_token,)):
        if metrics:
            return "metrics"
        raise json_exception(web.HTTPForbidden, "the metrics token may only read /metrics")
    if token_matches(given, settings.relay_tokens):
        raise json_exception(web.HTTPForbidden,
                         "a relay token may only subscribe to /ws/announce")
    throttle.failed(client)
    log.info("wrong %s token from %s", "metrics" if metrics else "admin", client)
    raise json_exception(web.HTTPUnauthorized,
                         "invalid metrics token" if metrics else "invalid admin token")


def metrics_identity(request: web.Request) -> str:
    """"token" (admin) or "metrics" (NTR_METRICS_TOKEN) for GET /metrics: a bearer token
    only, no session; raises JSON 401 (a wrong token counted), 403 (relay token) or 429."""
    given = bearer_token(request)
    if given is None:
        raise json_exception(web.HTTPUnauthorized, "authentication required: "
                             "Authorization: Bearer <NTR_ADMIN_TOKEN or NTR_METRICS_TOKEN>")
    return _bearer_identity(request, given, metrics=True)


async def admin_identity(request: web.Request) -> str:
    """Who is asking ("token" or "web:<user>"); raises JSON 401/403/429 otherwise.

    A bearer token wins when present (a wrong one is 401 even with a session; wrong ones
    are throttled per client; relay tokens are refused). A state-changing request
    authenticated by the session cookie must come from this site.
    """
    given = bearer_token(request)
    if given is not None:
        return _bearer_identity(request, given)
    user = await session_user(request)
    if user is None:
        raise json_exception(web.HTTPUnauthorized, "authentication required")
    if request.method in STATE_CHANGING and not same_origin(request):
        raise json_exception(web.HTTPForbidden, "cross-origin request refused")
    return f"web:{user}"


async def is_admin_caller(request: web.Request) -> bool:
    """True for a session or admin-bearer caller (who may see `who`); never raises."""
    if bearer_token(request) is not None:
        try:
            return _bearer_identity(request, bearer_token(request) or "") == "token"
        except web.HTTPException:
            return False
    return await session_user(request) is not None


# --- security headers (also set by helpers.error_middleware on every response) ---------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _add_headers(response: web.StreamResponse) -> None:
    if not response.prepared:
        add_security_headers(response.headers)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Add CSP, no-framing, no-referrer and nosniff to every (unprepared) response."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _add_headers(exc)
        raise
    _add_headers(response)
    return response
