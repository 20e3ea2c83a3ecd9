"""Every setting: its name, type, default and help text (the README table comes from here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

PREFIX = "NTR_"
DEFAULT_ANNOUNCE_FORMAT = "Now Playing: Song #{position}: {title} by {artist} - {permalink_url}"
#: Masked by check-config and never logged (channel keys are secrets too).
SECRET_FIELDS = frozenset({"admin_token", "relay_tokens", "metrics_token", "web_password",
                           "secret_key", "irc_sasl_password", "irc_password",
                           "irc_nickserv_password", "discord_webhook_url",
                           "webhook_urls", "webhook_secret", "irc_channel_keys"})


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
