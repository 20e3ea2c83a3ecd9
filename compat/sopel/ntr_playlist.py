"""Sopel 8 plugin: relay ntrbot's live announcements and answer NtR playlist commands."""

from __future__ import annotations

import json
import random
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import websocket
from sopel import formatting, plugin, tools
from sopel.config import types
from sopel.irc.utils import safe
from sopel.tools import get_logger

LOGGER = get_logger("ntr_playlist")
MEMORY_KEY = "ntr_playlist_listener"


# --- ntr shared: begin -------------------------------------------------------------------
# This block is kept byte-identical in compat/sopel/ntr_playlist.py and
# compat/limnoria/NtrPlaylist/ntrclient.py (a test checks it), so that the Sopel plugin stays
# a single drop-in file. Edit both copies together.

HTTP_TIMEOUT = 5.0  # seconds, for each HTTP API request made by a command
CONNECT_TIMEOUT = 5.0  # seconds, for opening the WebSocket
IDLE_PING = 30.0  # seconds without any frame before we ping; a second silence drops the socket
FIRST_RETRY = 2.0  # upper bound of the first reconnect delay, in seconds
MAX_RETRY = 60.0  # cap of the reconnect delay
STABLE_AFTER = 30.0  # a connection that lasted this long resets the backoff
AUTH_RETRY = 30.0  # minimum delay after the server refused the token
UNCONFIGURED_POLL = 2.0  # how often an unconfigured listener re-reads its settings
CLOSE_AUTH_FAILED = 4001
PLAYLIST_REPLY_MAX = 380  # characters of track list in a !playlist reply
POST_WAIT = 8.0  # seconds an announce waits for IRC (registered, in the channel): < the 10 s ack
ACK_DETAIL_MAX = 200  # characters of the reason in a failed ack
RELAY_NAME_MAX = 100  # characters of the relay name sent in the subscribe
ELLIPSIS = "\u2026"  # marks an announce shortened to fit one IRC line

# The same rules as ntrbot's own line cleaner (ntrbot/text.py `clean`); a test runs
# both over one hostile corpus and wants the same output.
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]")
# IRC colour codes with their colour numbers (\x03NN,NN) and hex colours (\x04RRGGBB,RRGGBB)
_COLOURS = re.compile(r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
                      r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
# other control characters (C0, DEL, C1), the BOM, bidi embeddings/overrides/isolates
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufeff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r" {2,}")
_TRAILING_URL = re.compile(r"\s+https?://\S+$")


def clean_line(text: Any) -> str:
    """Return ``text`` as one IRC-safe line: line breaks and tabs become a space; colour
    codes go with their numbers; CTCP \\x01, NUL, formatting and other control characters,
    the BOM and bidi overrides are removed; runs of spaces become one; a lone surrogate
    becomes U+FFFD."""
    text = str(text).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _INVISIBLE.sub("", _COLOURS.sub("", _LINE_BREAKS.sub(" ", text)))
    return _SPACES.sub(" ", text).strip()


def split_url(line: str) -> tuple[str, str]:
    """Split a line ending in an http(s) URL into ``(head, " URL")``; ``head + tail == line``.

    A line with no trailing URL gives ``(line, "")``. Used to keep the URL when a too long
    announce is shortened.
    """
    match = _TRAILING_URL.search(line)
    if match is None or match.start() == 0:
        return line, ""
    return line[: match.start()], line[match.start() :]


def fit_line(text: str, limit: int, cut: Callable[[str, int], str]) -> str:
    """``text`` shortened to at most ``limit`` UTF-8 bytes, ending in ELLIPSIS when it was.

    A trailing URL is kept when it takes at most half the room. ``cut(text, n)`` is the bot
    framework's own cut at a word boundary to ``n`` bytes; when that would throw away more
    than a third of the room (one long word, a title without spaces), the text is cut at the
    last whole character instead.
    """
    if len(text.encode("utf-8")) <= limit:
        return text
    head, url = split_url(text)
    if not url or len(url.encode("utf-8")) > limit // 2:
        head, url = text, ""
    room = max(0, limit - len(url.encode("utf-8")) - len(ELLIPSIS.encode("utf-8")))
    short = cut(head, room) if room else ""
    size = len(short.encode("utf-8"))
    if size > room or size < room * 2 // 3:
        short = head.encode("utf-8")[:room].decode("utf-8", "ignore")
    return short.rstrip() + ELLIPSIS + url


class RelayFailed(Exception):
    """The bot could not post an announce; the message is the reason sent in the ack."""


class ApiError(Exception):
    """The HTTP API answered with an error."""


class ApiUnreachable(ApiError):
    """The HTTP API could not be reached (or answered garbage)."""


class ApiNotFound(ApiError):
    """The HTTP API answered 404."""


UNREACHABLE_REPLY = "ntrbot is unreachable right now, try again later."


def fetch_json(base_url: str, path: str, timeout: float = HTTP_TIMEOUT) -> Any:
    """GET ``base_url + path`` and decode the JSON body; raise an ApiError subclass."""
    url = base_url.rstrip("/") + path
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read(1_000_000).decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ApiNotFound(url) from exc
        raise ApiError(f"HTTP {exc.code} from {url}") from exc
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused, bad JSON
        raise ApiUnreachable(f"{url}: {exc}") from exc


def format_track(track: dict[str, Any], label: str = "Song") -> str:
    """One track as an IRC reply line."""
    url = track.get("permalink_url") or ""  # a manual track may have no URL
    return clean_line(
        f"{label} #{track.get('position', '?')}: {track.get('title', '?')} "
        f"by {track.get('artist', '?')}" + (f" - {url}" if url else "")
    )


def reply_np(base_url: str, last_announce: str | None) -> str:
    """Reply to !np: ntrbot's last announce (GET /nowplaying), else the last one relayed."""
    try:
        playing = fetch_json(base_url, "/nowplaying")
    except ApiNotFound:
        return "Nothing announced yet."
    except ApiError:
        playing = None
    if isinstance(playing, dict) and isinstance(playing.get("message"), str):
        return clean_line(playing["message"])
    return clean_line(last_announce) if last_announce else "Nothing announced yet."


def reply_song(base_url: str, position: int) -> str:
    """Reply to !song N: track N of the current show."""
    try:
        track = fetch_json(base_url, f"/playlist/{int(position)}")
    except ApiNotFound:
        return f"No track #{int(position)} in the current show."
    except ApiError:
        return UNREACHABLE_REPLY
    if not isinstance(track, dict):
        return UNREACHABLE_REPLY
    return format_track(track)


def reply_playlist(base_url: str) -> str:
    """Reply to !playlist: the current show's tracks, shortened to one line."""
    try:
        show = fetch_json(base_url, "/playlist")
    except ApiNotFound:
        return "There is no current show yet."
    except ApiError:
        return UNREACHABLE_REPLY
    if not isinstance(show, dict):
        return UNREACHABLE_REPLY
    tracks = [t for t in show.get("tracks") or [] if isinstance(t, dict)]
    episode = show.get("episode")
    head = "This week" if episode is None else f"Episode {episode}"
    if not tracks:
        return clean_line(f"{head}: no tracks yet.")
    items: list[str] = []
    used = 0
    for track in tracks:
        item = "{}. {} by {}".format(
            track.get("position", "?"), track.get("title", "?"), track.get("artist", "?")
        )
        if items and used + len(item) > PLAYLIST_REPLY_MAX:
            break
        items.append(item)
        used += len(item) + 3
    more = len(tracks) - len(items)
    tail = f" | +{more} more (song N for details)" if more else ""
    count = f"{len(tracks)} track" + ("" if len(tracks) == 1 else "s")
    return clean_line(f"{head} ({count}): " + " | ".join(items) + tail)


def reply_lastshow(base_url: str, position: int) -> str:
    """Reply to !lastshow N: track N of the previous show."""
    try:
        listing = fetch_json(base_url, "/shows?limit=2")
        shows = listing.get("shows") if isinstance(listing, dict) else None
        if not isinstance(shows, list) or len(shows) < 2 or not isinstance(shows[1], dict):
            return "There is no previous show yet."
        show_id = urllib.parse.quote(str(shows[1].get("id", "")), safe="")
        show = fetch_json(base_url, f"/shows/{show_id}")
    except ApiNotFound:
        return "There is no previous show yet."
    except ApiError:
        return UNREACHABLE_REPLY
    if not isinstance(show, dict):
        return UNREACHABLE_REPLY
    episode = show.get("episode", "?")
    for track in show.get("tracks") or []:
        if isinstance(track, dict) and track.get("position") == int(position):
            return format_track(track, label=f"Last show (episode {episode}): song")
    return f"No track #{int(position)} in the last show (episode {episode})."


def open_websocket(url: str, timeout: float) -> Any:
    """Open a websocket-client connection (the default ``connect`` of AnnounceListener)."""
    return websocket.create_connection(url, timeout=timeout, enable_multithread=True)


class AnnounceListener:
    """Background thread: subscribe to ntrbot's /ws/announce and hand each announce on.

    ``get_config`` returns ``(ws_url, token)`` and is read before every connection, so setting
    changes apply on the next reconnect; so is ``relay_name`` (the ``name`` sent in the
    subscribe, e.g. ``nick@network``). The subscribe asks for acks: ``on_announce`` receives
    the cleaned message text on the listener thread and returns once the bot has posted it,
    or raises (``RelayFailed`` with the reason) when it could not; an announce that carries an
    ``id`` is then acked over the same socket, from the same thread. ``connect``, ``wait``,
    ``clock`` and ``rand`` exist so tests can drive the reconnect logic without sockets or
    real sleeping.
    """

    def __init__(
        self,
        get_config: Callable[[], tuple[str, str]],
        on_announce: Callable[[str], None],
        *,
        logger: Any,
        token_setting: str = "admin token",
        relay_name: Callable[[], str] | None = None,
        connect: Callable[[str, float], Any] = open_websocket,
        wait: Callable[[float], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
        name: str = "ntr-announce-listener",
    ) -> None:
        self._get_config = get_config
        self._on_announce = on_announce
        self._log = logger
        self._token_setting = token_setting
        self._relay_name = relay_name
        self._connect = connect
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._clock = clock
        self._rand = rand
        self._name = name
        self._lock = threading.Lock()
        self._ws: Any = None
        self._thread: threading.Thread | None = None
        self.attempt = 0
        self.subscribed = threading.Event()
        self.last_announce: str | None = None
        self.last_close_code: int | None = None
        self.post_wait = POST_WAIT  # how long on_announce may wait for IRC (tests shorten it)

    # lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the listener thread (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self.run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = CONNECT_TIMEOUT + 1.0) -> bool:
        """Stop the thread, closing the socket to wake it; return True when it has ended."""
        self._stop.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            try:
                ws.abort()
            except Exception:  # best effort: the socket may already be gone
                pass
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            return not thread.is_alive()
        return True

    @property
    def stopped(self) -> bool:
        """Whether stop() was called."""
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        """Whether the listener thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def wait_until(self, predicate: Callable[[], bool], timeout: float, step: float = 0.5) -> bool:
        """Wait (interruptibly by stop()) until ``predicate()`` is true; return its last value."""
        deadline = self._clock() + timeout
        while not predicate():
            if self._stop.is_set() or self._clock() >= deadline:
                return bool(predicate())
            self._stop.wait(step)
        return True

    # reconnect policy -------------------------------------------------------------------
    def next_delay(self, attempt: int, auth_failed: bool = False) -> float:
        """Backoff with jitter: attempt 0 waits 1-2 s, doubling up to MAX_RETRY."""
        ceiling = min(MAX_RETRY, FIRST_RETRY * (2 ** min(attempt, 16)))
        delay = ceiling * (0.5 + 0.5 * self._rand())
        if auth_failed:
            delay = max(delay, AUTH_RETRY)
        return min(delay, MAX_RETRY)

    def run(self) -> None:
        """Thread body: connect, listen, back off, repeat until stopped."""
        warned_unconfigured = False
        while not self._stop.is_set():
            url, token = self._get_config()
            if not url or not token:
                if not warned_unconfigured:
                    self._log.warning(
                        "ntr announce listener idle: WebSocket URL or %s not set",
                        self._token_setting,
                    )
                    warned_unconfigured = True
                if self._wait(UNCONFIGURED_POLL):
                    break
                continue
            warned_unconfigured = False
            started = self._clock()
            code: int | None = None
            try:
                code = self._session(url, token)
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._log.warning("ntr announce WebSocket %s failed: %s", url, exc)
            finally:
                self.subscribed.clear()
            if self._stop.is_set():
                break
            self.last_close_code = code
            auth_failed = code == CLOSE_AUTH_FAILED
            if not auth_failed and self._clock() - started >= STABLE_AFTER:
                self.attempt = 0
            delay = self.next_delay(self.attempt, auth_failed)
            self.attempt += 1
            if auth_failed:
                self._log.error(
                    "ntrbot refused the %s (WebSocket closed with code 4001): "
                    "fix the setting; retrying in %.0f s",
                    self._token_setting,
                    delay,
                )
            else:
                self._log.info(
                    "ntr announce WebSocket closed (code %s); reconnecting in %.1f s", code, delay
                )
            if self._wait(delay):
                break

    def _session(self, url: str, token: str) -> int | None:
        """One connection: subscribe, then relay until closed; return the close code."""
        ws = self._connect(url, CONNECT_TIMEOUT)
        with self._lock:
            if self._stop.is_set():
                ws.close()
                return None
            self._ws = ws
        try:
            ws.send(json.dumps(self._subscribe_message(token)))
            ws.settimeout(IDLE_PING)
            pinged = False
            while not self._stop.is_set():
                try:
                    opcode, data = ws.recv_data(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    if pinged:
                        self._log.warning("ntr announce WebSocket silent; reconnecting")
                        return None
                    ws.ping()
                    pinged = True
                    continue
                pinged = False
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self._handle(data, ws)
            return None
        finally:
            with self._lock:
                self._ws = None
            try:
                ws.shutdown()
            except Exception:  # best effort
                pass

    def _subscribe_message(self, token: str) -> dict[str, Any]:
        """``{"type": "subscribe", "token": ..., "name": ..., "acks": true}``."""
        hello: dict[str, Any] = {"type": "subscribe", "token": token}
        name = ""
        if self._relay_name is not None:
            try:
                name = clean_line(self._relay_name() or "")[:RELAY_NAME_MAX]
            except Exception as exc:  # the name is a nicety: never let it block the subscribe
                self._log.warning("ntr announce: no relay name (%s)", exc)
        if name:
            hello["name"] = name
        hello["acks"] = True
        return hello

    def _ack(self, ws: Any, announcement_id: Any, detail: str | None) -> None:
        """Tell ntrbot whether the announce was posted (``detail`` None) or why not."""
        ack: dict[str, Any] = {"type": "ack", "id": announcement_id, "ok": detail is None}
        if detail is not None:
            ack["detail"] = clean_line(detail)[:ACK_DETAIL_MAX] or "failed"
        ws.send(json.dumps(ack))

    def _handle(self, data: bytes | str, ws: Any = None) -> None:
        """Act on one text frame from the server (acking announces on ``ws``)."""
        try:
            message = json.loads(data)
        except ValueError:
            self._log.warning("ntr announce: ignoring a frame that is not JSON")
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "status":
            if not self.subscribed.is_set():
                self.subscribed.set()
                self._log.info(
                    "ntr announce: subscribed (%s subscribers)", message.get("subscribers")
                )
            return
        if kind != "announce":
            return
        self.subscribed.set()
        announcement_id = message.get("id")
        if isinstance(announcement_id, bool) or not isinstance(announcement_id, (int, str)):
            announcement_id = None  # an old server: nothing to ack
        text = clean_line(message.get("message") or "")
        detail: str | None = None
        if not text:
            detail = "empty message"
        else:
            self.last_announce = text
            try:
                self._on_announce(text)
            except RelayFailed as exc:
                detail = str(exc) or "not posted"
                self._log.warning("ntr announce: not posted to IRC: %s", detail)
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                self._log.exception("ntr announce: relaying to IRC failed")
        if announcement_id is not None and ws is not None:
            self._ack(ws, announcement_id, detail)


# --- ntr shared: end ---------------------------------------------------------------------


class NtrPlaylistSection(types.StaticSection):
    """Settings of the ``[ntr_playlist]`` section."""

    ws_url = types.ValidatedAttribute("ws_url", default="ws://127.0.0.1:8000/ws/announce")
    admin_token = types.SecretAttribute("admin_token", default="")
    announce_channel = types.ValidatedAttribute("announce_channel", default="#sewerchat")
    api_base_url = types.ValidatedAttribute("api_base_url", default="http://127.0.0.1:8000")
    relay_name = types.ValidatedAttribute("relay_name", default="")  # optional; nick@host


def configure(config: Any) -> None:
    """Interactive set-up for ``sopel-plugins configure ntr_playlist``."""
    config.define_section("ntr_playlist", NtrPlaylistSection, validate=False)
    section = config.ntr_playlist
    section.configure_setting(
        "ws_url", "ntrbot WebSocket URL (ws://127.0.0.1:8000/ws/announce; wss:// if remote)"
    )
    section.configure_setting(
        "admin_token", "ntrbot relay token (one of NTR_RELAY_TOKENS, or NTR_ADMIN_TOKEN)"
    )
    section.configure_setting("announce_channel", "Channel to post announcements to")
    section.configure_setting("api_base_url", "ntrbot HTTP API base URL")
    section.configure_setting(
        "relay_name", "Name on ntrbot's dashboard (empty: <nick>@<host>)"
    )


def relay_name(bot: Any) -> str:
    """The name this relay subscribes with: ``relay_name``, else ``<nick>@<server host>``."""
    configured = bot.settings.ntr_playlist.relay_name
    return configured or f"{bot.nick}@{bot.settings.core.host}"


_UNKNOWN = object()  # Sopel's memory of what it said is not readable (another version)


def _last_said(bot: Any, channel: str) -> Any:
    """The last (time, text) Sopel recorded as said to ``channel`` (its anti-loop memory)."""
    try:
        said = bot.stack.get(bot.make_identifier(channel))
        return said["messages"][-1] if said and said["messages"] else None
    except (AttributeError, KeyError, TypeError, IndexError):
        return _UNKNOWN


def _relay(bot: Any, listener: AnnounceListener, text: str) -> None:
    """Post one announce to the configured channel through Sopel's own (throttled) sending.

    One line, cut to what the server relays with the bot's prefix (Sopel's
    ``safe_text_length`` and ``get_sendable_message``; ``bot.say`` with ``max_messages=1``),
    keeping a trailing URL. Raises RelayFailed when it was not posted.
    """
    channel = bot.settings.ntr_playlist.announce_channel
    if not listener.wait_until(
        lambda: bot.connection_registered and channel in bot.channels, listener.post_wait
    ):
        reason = f"not in {channel}" if bot.connection_registered else "not connected to IRC"
        raise RelayFailed(reason)
    line = fit_line(
        formatting.plain(safe(text)),
        bot.safe_text_length(channel),
        lambda head, size: tools.get_sendable_message(head, size)[0],
    )
    before = _last_said(bot, channel)
    bot.say(line, channel, max_messages=1)  # fits already; Sopel's own cut stays the backstop
    after = _last_said(bot, channel)
    if after is _UNKNOWN or before is _UNKNOWN:
        return
    if after is None or after is before or (
        after[1] == bot.settings.core.antiloop_repeat_text != line
    ):
        raise RelayFailed("not sent: Sopel's anti-loop protection held it back")


def setup(bot: Any) -> None:
    """Define the settings and start the announce listener."""
    bot.settings.define_section("ntr_playlist", NtrPlaylistSection)
    old = bot.memory.get(MEMORY_KEY)
    if old is not None:  # a reload without shutdown: never leave a thread behind
        old.stop()
    section = bot.settings.ntr_playlist
    listener: AnnounceListener

    def on_announce(text: str) -> None:
        _relay(bot, listener, text)

    listener = AnnounceListener(
        lambda: (section.ws_url or "", section.admin_token or ""),
        on_announce,
        logger=LOGGER,
        token_setting="[ntr_playlist] admin_token",
        relay_name=lambda: relay_name(bot),
    )
    bot.memory[MEMORY_KEY] = listener
    listener.start()


def shutdown(bot: Any) -> None:
    """Stop the announce listener and wait for its thread to end."""
    listener = bot.memory.get(MEMORY_KEY)
    if listener is None:
        return
    if not listener.stop():
        LOGGER.warning("ntr announce listener thread did not stop in time")
    try:
        del bot.memory[MEMORY_KEY]
    except KeyError:
        pass


def _listener(bot: Any) -> AnnounceListener | None:
    return bot.memory.get(MEMORY_KEY)


def _position(bot: Any, trigger: Any, usage: str) -> int | None:
    """Parse the track number argument, answering with the usage when it is not one."""
    arg = (trigger.group(3) or "").strip()
    if arg.isdigit() and int(arg) > 0:
        return int(arg)
    bot.reply(usage)
    return None


@plugin.command("np")
@plugin.example(".np")
def np(bot: Any, trigger: Any) -> None:
    """Show the track announced last."""
    listener = _listener(bot)
    bot.say(reply_np(bot.settings.ntr_playlist.api_base_url,
                     listener.last_announce if listener else None))


@plugin.command("song")
@plugin.example(".song 3")
def song(bot: Any, trigger: Any) -> None:
    """Show track N of the current show."""
    position = _position(bot, trigger, "Usage: song N (a track number of the current show)")
    if position is not None:
        bot.say(reply_song(bot.settings.ntr_playlist.api_base_url, position))


@plugin.command("playlist")
@plugin.example(".playlist")
def playlist(bot: Any, trigger: Any) -> None:
    """Show the current show's playlist."""
    bot.say(reply_playlist(bot.settings.ntr_playlist.api_base_url))


@plugin.command("lastshow")
@plugin.example(".lastshow 3")
def lastshow(bot: Any, trigger: Any) -> None:
    """Show track N of the previous show."""
    position = _position(bot, trigger, "Usage: lastshow N (a track number of the last show)")
    if position is not None:
        bot.say(reply_lastshow(bot.settings.ntr_playlist.api_base_url, position))
