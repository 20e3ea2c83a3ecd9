"""Settings: NTR_ environment variables over an optional TOML file, validated once."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ntrbot.netaddr import parse_networks

PREFIX = "NTR_"
DEFAULT_ANNOUNCE_FORMAT = "Now Playing: Song #{position}: {title} by {artist} - {permalink_url}"
ANNOUNCE_FIELDS = frozenset(
    {"position", "title", "artist", "permalink_url", "artwork_url", "duration_ms",
     "license", "liked_at", "id", "episode", "show_id"}
)
SECRET_FIELDS = frozenset({"admin_token", "relay_tokens", "metrics_token", "web_password",
                           "secret_key", "irc_sasl_password", "irc_password",
                           "irc_nickserv_password", "discord_webhook_url",
                           "webhook_urls", "webhook_secret"})
MIN_TOKEN_LENGTH = 16
#: channel keys are secrets too: masked by check-config, never logged
SECRET_FIELDS = SECRET_FIELDS | {"irc_channel_keys"}


class ConfigError(ValueError):
    """A setting is missing or invalid; `str()` is one line naming the variable."""

    def __init__(self, name: str, problem: str) -> None:
        self.setting = PREFIX + name.upper()
        super().__init__(f"{self.setting}: {problem}")


def _meta(help_: str, **kw: Any) -> Any:
    return field(metadata={"help": help_}, **kw)


@dataclass(frozen=True)
class Settings:
    """Every setting ntrbot knows; field name = variable name without NTR_, lower case."""

    admin_token: str = _meta("bearer token for the admin API and the compat plugins' WebSocket"
                             " (16+ characters)")
    relay_tokens: tuple[str, ...] = _meta(
        "tokens that may only subscribe to /ws/announce (relay bots), comma separated, "
        "16+ characters each", default=())
    metrics_token: str | None = _meta(
        "bearer token that may only read GET /metrics (16+ characters); the admin token "
        "reads it too", default=None)
    host: str = _meta("web listen address", default="127.0.0.1")
    port: int = _meta("web listen port", default=8000)
    db_path: str = _meta("SQLite file", default="./ntrbot.db")
    soundcloud_user: str = _meta("whose likes make the playlist", default="nicktherat")
    poll_interval_seconds: float = _meta("poll period outside the live window", default=3600)
    live_poll_interval_seconds: float = _meta("poll period while the show is live", default=60)
    soundcloud_client_id: str | None = _meta(
        "fixed SoundCloud client id; otherwise scraped from the web site", default=None)
    soundcloud_api_base: str = _meta("SoundCloud API base URL",
                                     default="https://api-v2.soundcloud.com")
    soundcloud_web_base: str = _meta("SoundCloud web site (for the client id scrape)",
                                     default="https://soundcloud.com")
    backfill_weeks: int = _meta("show weeks to fill on the first poll (current one included)",
                                default=2)
    show_day: int = _meta("show start weekday (Mon=0)", default=2)
    show_hour: int = _meta("show start hour, local time", default=22)
    show_timezone: str = _meta("show time zone (IANA)", default="America/New_York")
    show_length_hours: float = _meta("how long the live window lasts", default=5)
    web_user: str | None = _meta("dashboard login name", default=None)
    web_password: str | None = _meta(
        "dashboard password, plain or a hash from `ntrbot hash-password`", default=None)
    secret_key: str | None = _meta("32+ characters; the session encryption key derives from it",
                                   default=None)
    cookie_secure: str = _meta(
        "session cookie Secure flag: auto (when the request came over https), true, false",
        default="auto")
    trusted_proxies: tuple[str, ...] = _meta(
        "reverse proxies (IPs/CIDRs, comma separated) whose X-Forwarded-For/-Proto are "
        "believed; empty: none", default=("127.0.0.1/32", "::1/128"))
    public_url: str | None = _meta(
        "public base URL of this site, used in !playlist links", default=None)
    irc_server: str | None = _meta("IRC server; IRC is off when unset", default=None)
    irc_port: int = _meta("IRC port", default=6667)
    irc_tls: bool = _meta("connect with TLS", default=False)
    irc_tls_verify: bool = _meta("verify the server's TLS certificate", default=True)
    irc_password: str | None = _meta("IRC server password (PASS)", default=None)
    irc_nick: str = _meta("bot nick", default="ntrbot")
    irc_channels: tuple[str, ...] = _meta(
        "channels to join, comma separated; an entry may be `#chan key` for a channel with a "
        "key (+k)", default=("#sewerchat",))
    irc_channel_keys: tuple[str, ...] = _meta(
        "channel keys (+k), comma separated `#chan=key` pairs (the channel in "
        "NTR_IRC_CHANNELS or NTR_ANNOUNCE_CHANNEL); never logged", default=())
    announce_channel: str = _meta("where announces go; several channels comma separated, each "
                                  "an output", default="#sewerchat")
    irc_sasl_user: str | None = _meta("SASL account (PLAIN, SCRAM-SHA-256)", default=None)
    irc_sasl_password: str | None = _meta("SASL password (PLAIN, SCRAM-SHA-256)", default=None)
    irc_nickserv_password: str | None = _meta(
        "NickServ password, never logged (used to GHOST a ghost holding the bot's nick)",
        default=None)
    irc_sasl_mechanism: str = _meta(
        "auto (strongest the server offers among those configured: EXTERNAL with a client "
        "certificate, else SCRAM-SHA-256, else PLAIN), PLAIN, SCRAM-SHA-256 or EXTERNAL",
        default="auto")
    irc_tls_cert: str | None = _meta(
        "PEM client certificate for IRC TLS (CertFP, SASL EXTERNAL); may hold the key too",
        default=None)
    irc_tls_key: str | None = _meta("PEM private key of NTR_IRC_TLS_CERT, if separate "
                                    "(unencrypted)", default=None)
    irc_admins: tuple[str, ...] = _meta(
        "hostmask patterns (nick!user@host, * wildcards) allowed admin commands, comma separated",
        default=())
    irc_flood_burst: int = _meta("lines the bot may send at once", default=4)
    irc_flood_rate: float = _meta("lines per second after the burst", default=1.0)
    announce_format: str = _meta("announce message template", default=DEFAULT_ANNOUNCE_FORMAT)
    announce_delay_seconds: float = _meta(
        "seconds an announce waits before it goes out, to match the stream's delay (the "
        "dashboard can change it for tonight)", default=0.0)
    announce_fresh_seconds: float = _meta(
        "an announce queued while IRC is down is still sent if IRC returns within this time",
        default=180)
    discord_webhook_url: str | None = _meta(
        "Discord execute-webhook URL (any http(s) URL): each announce line is posted there "
        "(output `discord`)", default=None)
    webhook_urls: tuple[str, ...] = _meta(
        "http(s) URLs, comma separated, each sent every announce as signed JSON (output "
        "`webhook:<host[:port]>`)", default=())
    webhook_secret: str | None = _meta(
        "16+ characters; the key of the webhooks' X-Ntrbot-Signature HMAC-SHA256 (required "
        "with NTR_WEBHOOK_URLS)", default=None)
    log_level: str = _meta("DEBUG, INFO, WARNING or ERROR", default="INFO")

    def __post_init__(self) -> None:
        # "#chan key" in NTR_IRC_CHANNELS: the name stays there, the key joins the keys.
        if any(len(c.split()) > 1 for c in self.irc_channels):
            names, keys = [], list(self.irc_channel_keys)
            for entry in self.irc_channels:
                name, *rest = entry.split(None, 1)
                names.append(name)
                if rest:
                    keys.append(f"{name}={rest[0].strip()}")
            object.__setattr__(self, "irc_channels", tuple(names))
            object.__setattr__(self, "irc_channel_keys", tuple(keys))

    @property
    def channel_keys(self) -> dict[str, str]:
        """Channel -> key (+k), from NTR_IRC_CHANNEL_KEYS and `#chan key` channel entries."""
        out: dict[str, str] = {}
        for pair in self.irc_channel_keys:
            chan, _, key = pair.partition("=")
            out[chan.strip()] = key.strip()
        return out

    @property
    def dashboard_enabled(self) -> bool:
        return bool(self.web_user and self.web_password and self.secret_key)

    @property
    def irc_enabled(self) -> bool:
        return bool(self.irc_server)

    @property
    def announce_channels(self) -> tuple[str, ...]:
        """NTR_ANNOUNCE_CHANNEL as a list: each channel is an announce output."""
        seen: dict[str, str] = {}
        for ch in self.announce_channel.split(","):
            if ch.strip():
                seen.setdefault(ch.strip().lower(), ch.strip())
        return tuple(seen.values())

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.show_timezone)

    def masked(self) -> dict[str, Any]:
        """All settings as plain values, secrets replaced by `***` (never printed)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                value = "***"
            elif isinstance(value, tuple):
                value = ",".join(value)
            out[PREFIX + f.name.upper()] = value
        return out


def setting_names() -> list[str]:
    """The NTR_ variable names, in declaration order."""
    return [PREFIX + f.name.upper() for f in dataclasses.fields(Settings)]


def setting_help() -> dict[str, tuple[str, str]]:
    """Variable name -> (default as text, meaning)."""
    out = {}
    for f in dataclasses.fields(Settings):
        if f.default is dataclasses.MISSING:
            default = "(required)"
        elif f.default is None or f.default == ():
            default = "unset"
        elif isinstance(f.default, tuple):
            default = ",".join(f.default)
        elif isinstance(f.default, bool):
            default = str(f.default).lower()
        else:
            default = str(f.default)
        out[PREFIX + f.name.upper()] = (default, f.metadata["help"])
    return out


# --- parsing ---------------------------------------------------------------

def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in {"1", "true", "yes", "on"}:
        return True
    if s in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _to_list(v: Any) -> tuple[str, ...]:
    items = v if isinstance(v, list | tuple) else str(v).split(",")
    return tuple(s for s in (str(i).strip() for i in items) if s)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError("expected a whole number")
    if isinstance(v, int):
        return v
    return int(str(v).strip())


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError("expected a number")
    f = float(v) if isinstance(v, int | float) else float(str(v).strip())
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return f


def _to_str(v: Any) -> str:
    if isinstance(v, dict | list):
        raise ValueError("expected a string")
    return str(v).strip()


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": _to_int, "float": _to_float, "bool": _to_bool,
    "tuple[str, ...]": _to_list, "str": _to_str, "str | None": _to_str,
}


def _read_toml(path: str) -> dict[str, Any]:
    import tomllib  # only with a config file: most deployments set NTR_ variables only

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("config", f"cannot read {path}: {exc}") from None
    # Allow an optional [ntrbot] table; keys may be `port` or `NTR_PORT`.
    # (not `{**data, **data.pop("ntrbot")}`: that copies the key before popping it)
    table = data.get("ntrbot")
    if isinstance(table, dict):
        data = {k: v for k, v in data.items() if k != "ntrbot"} | table
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = key.lower()
        if name.startswith("ntr_"):
            name = name[4:]
        out[name] = value
    return out


def load_settings(environ: Mapping[str, str] | None = None,
                  config_file: str | None = None) -> Settings:
    """Build Settings from a TOML file (optional) and the environment (which wins)."""
    env = os.environ if environ is None else environ
    config_file = config_file or env.get("NTR_CONFIG") or None
    raw: dict[str, Any] = _read_toml(config_file) if config_file else {}
    known = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(k for k in raw if k not in known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting in {config_file}")
    for name in known:
        value = env.get(PREFIX + name.upper())
        if value is not None:
            raw[name] = value
    values: dict[str, Any] = {}
    for name, f in known.items():
        if name not in raw:
            continue
        value = raw[name]
        kind = str(f.type)
        if kind.endswith("| None") and (value is None or str(value).strip() == ""):
            values[name] = None
            continue
        try:
            values[name] = _CONVERT[kind](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(name, f"invalid value ({exc})") from None
    if not values.get("admin_token"):
        raise ConfigError("admin_token",
                          "required (any long random string; `ntrbot gen-secret` makes one)")
    settings = Settings(**values)
    validate(settings)
    return settings


def _check(ok: bool, name: str, problem: str) -> None:
    if not ok:
        raise ConfigError(name, problem)


MAX_NICK_LENGTH = 30
# RFC 2812 2.3.1: a letter or special first, then letters, digits, specials or "-" (ASCII
# only: `\Z`, not `$`, so a trailing newline never passes).
_NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]*\Z")


def validate(s: Settings) -> None:
    """Raise ConfigError for the first setting that cannot work."""
    check_tokens(s)
    _check(1 <= s.port <= 65535, "port", "must be 1-65535")
    _check(1 <= s.irc_port <= 65535, "irc_port", "must be 1-65535")
    _check(0 <= s.show_day <= 6, "show_day", "must be 0 (Monday) to 6 (Sunday)")
    _check(0 <= s.show_hour <= 23, "show_hour", "must be 0-23")
    try:
        ZoneInfo(s.show_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError("show_timezone", f"unknown time zone {s.show_timezone!r}") from None
    _check(0 < s.show_length_hours <= 168, "show_length_hours", "must be > 0 and at most 168")
    _check(s.poll_interval_seconds >= 1, "poll_interval_seconds", "must be at least 1")
    _check(s.live_poll_interval_seconds >= 1, "live_poll_interval_seconds", "must be at least 1")
    db_dir = os.path.dirname(os.path.abspath(s.db_path))
    _check(os.path.isdir(db_dir), "db_path", f"directory {db_dir} does not exist")
    _check(1 <= s.backfill_weeks <= 520, "backfill_weeks", "must be 1-520")
    _check(bool(s.soundcloud_user), "soundcloud_user", "must not be empty")
    for name in ("soundcloud_api_base", "soundcloud_web_base"):
        url = getattr(s, name)
        _check(url.startswith(("http://", "https://")), name, "must be an http(s) URL")
    if s.secret_key is not None:
        _check(len(s.secret_key) >= 32, "secret_key",
               "must be at least 32 characters (`ntrbot gen-secret` makes one)")
    _check(s.cookie_secure in {"auto", "true", "false"}, "cookie_secure",
           "must be auto, true or false")
    _check(_NICK.match(s.irc_nick) is not None and len(s.irc_nick) <= MAX_NICK_LENGTH,
           "irc_nick",
           f"must be 1-{MAX_NICK_LENGTH} letters, digits or []\\`_^{{|}}- "
           "(RFC 2812), not starting with a digit or -")
    _check(bool(s.announce_channels), "announce_channel", "must name at least one channel")
    for ch in (*s.irc_channels, *s.announce_channels):
        _check(ch[:1] in "#&+!" and len(ch) > 1 and not any(c in ch for c in " ,\x07\r\n"),
               "irc_channels" if ch in s.irc_channels else "announce_channel",
               f"{ch!r} is not a channel name")
    check_channel_keys(s)
    _check(s.irc_nickserv_password is None or not _bad_key(s.irc_nickserv_password),
           "irc_nickserv_password", "must be one word (no spaces or control characters)")
    _check(s.irc_flood_burst >= 1, "irc_flood_burst", "must be at least 1")
    _check(s.irc_flood_rate > 0, "irc_flood_rate", "must be > 0")
    _check(s.announce_fresh_seconds >= 0, "announce_fresh_seconds", "must be >= 0")
    _check(0 <= s.announce_delay_seconds <= 600, "announce_delay_seconds",
           "must be from 0 to 600")
    _check(bool(s.irc_sasl_user) == bool(s.irc_sasl_password), "irc_sasl_password"
           if s.irc_sasl_user else "irc_sasl_user", "SASL needs both user and password")
    check_irc_sasl(s)
    check_webhooks(s)
    _check(s.log_level.upper() in {"DEBUG", "INFO", "WARNING", "ERROR"}, "log_level",
           "must be DEBUG, INFO, WARNING or ERROR")
    check_announce_format(s.announce_format)


def check_tokens(s: Settings) -> None:
    """Admin and relay tokens long enough to resist guessing; proxies parseable."""
    advice = (f"must be at least {MIN_TOKEN_LENGTH} characters "
              "(`ntrbot gen-secret` makes one)")
    _check(len(s.admin_token) >= MIN_TOKEN_LENGTH, "admin_token", advice)
    for token in s.relay_tokens:
        _check(len(token) >= MIN_TOKEN_LENGTH, "relay_tokens", "every token " + advice)
        _check(token != s.admin_token, "relay_tokens", "must differ from NTR_ADMIN_TOKEN")
    if s.metrics_token is not None:
        _check(len(s.metrics_token) >= MIN_TOKEN_LENGTH, "metrics_token", advice)
        _check(s.metrics_token != s.admin_token and s.metrics_token not in s.relay_tokens,
               "metrics_token", "must differ from NTR_ADMIN_TOKEN and NTR_RELAY_TOKENS")
    try:
        parse_networks(s.trusted_proxies)
    except ValueError as exc:
        raise ConfigError("trusted_proxies", str(exc)) from None


def _is_http_url(url: str) -> bool:
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_webhooks(s: Settings) -> None:
    """Webhook URLs are http(s) and signed with a long enough secret; never echoes a URL."""
    if s.discord_webhook_url is not None:
        _check(_is_http_url(s.discord_webhook_url), "discord_webhook_url",
               "must be an http(s) URL")
    for n, url in enumerate(s.webhook_urls, 1):
        _check(_is_http_url(url), "webhook_urls",
               f"entry {n} of {len(s.webhook_urls)} is not an http(s) URL")
    if s.webhook_urls:
        _check(bool(s.webhook_secret), "webhook_secret",
               "required with NTR_WEBHOOK_URLS (`ntrbot gen-secret` makes one)")
    if s.webhook_secret is not None:
        _check(len(s.webhook_secret) >= MIN_TOKEN_LENGTH, "webhook_secret",
               f"must be at least {MIN_TOKEN_LENGTH} characters "
               "(`ntrbot gen-secret` makes one)")


def _bad_key(key: str) -> bool:
    return (not key or key.startswith(":")
            or any(c in ", " or ord(c) < 32 or ord(c) == 127 for c in key))


def check_channel_keys(s: Settings) -> None:
    """Every key is `#chan=key` for a channel ntrbot joins; never echoes a key."""
    names = {c.lower() for c in (*s.irc_channels, *s.announce_channels)}
    seen: dict[str, str] = {}
    total = len(s.irc_channel_keys)
    for n, pair in enumerate(s.irc_channel_keys, 1):
        chan, sep, key = (part.strip() for part in pair.partition("="))
        where = f"entry {n} of {total}"
        _check(bool(sep) and chan[:1] in "#&+!" and len(chan) > 1, "irc_channel_keys",
               f"{where} is not #channel=key")
        _check(chan.lower() in names, "irc_channel_keys",
               f"{where}: {chan} is not in NTR_IRC_CHANNELS or NTR_ANNOUNCE_CHANNEL")
        _check(not _bad_key(key), "irc_channel_keys",
               f"{where}: the key for {chan} is empty or has a space, comma or control "
               "character")
        _check(seen.setdefault(chan.lower(), key) == key, "irc_channel_keys",
               f"two different keys for {chan}")


def check_announce_format(template: str) -> None:
    """Raise ConfigError unless the template renders sample tracks: only known track fields,
    sane widths, and every format spec valid for its value (`announce_format.problem`)."""
    from ntrbot.announcing.template import problem  # only the format needs the track models

    why = problem(template, ANNOUNCE_FIELDS)
    if why is not None:
        raise ConfigError("announce_format", why)


SASL_MECHANISMS = ("auto", "PLAIN", "SCRAM-SHA-256", "EXTERNAL")


def check_irc_sasl(s: Settings) -> None:
    """Raise ConfigError unless the SASL mechanism and the client certificate can work."""
    mech = s.irc_sasl_mechanism
    _check(mech.lower() in {m.lower() for m in SASL_MECHANISMS}, "irc_sasl_mechanism",
           f"unknown mechanism {mech!r}; use auto, PLAIN, SCRAM-SHA-256 or EXTERNAL")
    for name in ("irc_tls_cert", "irc_tls_key"):
        path = getattr(s, name)
        if path is not None:
            _check(os.path.isfile(path) and os.access(path, os.R_OK), name,
                   f"cannot read {path}")
    _check(s.irc_tls_key is None or bool(s.irc_tls_cert), "irc_tls_key",
           "a key needs NTR_IRC_TLS_CERT")
    if s.irc_tls_cert:
        _check(s.irc_tls, "irc_tls_cert", "a client certificate needs NTR_IRC_TLS=true")
        import ssl  # only here: most deployments have no client certificate

        try:  # as ntrbot.irc.transport.load_client_cert does (never prompts)
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                s.irc_tls_cert, s.irc_tls_key or None, password=lambda: b"")
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError("irc_tls_cert" if s.irc_tls_key is None else "irc_tls_key",
                              f"not a PEM certificate with its unencrypted key ({exc})"
                              ) from None
    upper = mech.upper()
    if upper == "EXTERNAL":
        _check(bool(s.irc_tls_cert), "irc_sasl_mechanism", "EXTERNAL needs NTR_IRC_TLS_CERT")
    elif upper in ("PLAIN", "SCRAM-SHA-256"):
        _check(bool(s.irc_sasl_user and s.irc_sasl_password), "irc_sasl_mechanism",
               f"{upper} needs NTR_IRC_SASL_USER and NTR_IRC_SASL_PASSWORD")
