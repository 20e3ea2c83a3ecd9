"""Unit tests of the compat plugins' AnnounceListener: backoff, auth failure, relaying, stop."""

from __future__ import annotations

import json
import threading
import time
from types import ModuleType
from typing import Any

import pytest
import websocket

from tests.support.compat_plugins import LIMNORIA_CLIENT, SOPEL_PLUGIN, TOKEN
from tests.support.net import free_port
from tests.support.standins import NtrStandIn

BEGIN = "# --- ntr shared: begin"
END = "# --- ntr shared: end"


def shared_block(path: Any) -> str:
    text: str = path.read_text(encoding="utf-8")
    return text[text.index(BEGIN) : text.index(END)]


def test_shared_block_is_identical_in_both_plugins() -> None:
    assert shared_block(SOPEL_PLUGIN) == shared_block(LIMNORIA_CLIENT)


class RecordingLog:
    """A stand-in logger that keeps (level, formatted message)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def _add(self, level: str, msg: str, *args: Any) -> None:
        self.records.append((level, msg % args if args else msg))

    def debug(self, msg: str, *args: Any) -> None:
        self._add("debug", msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self._add("info", msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._add("warning", msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._add("error", msg, *args)

    def exception(self, msg: str, *args: Any) -> None:
        self._add("exception", msg, *args)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waits:
    """Injected wait(): records each delay, advances the fake clock, stops after ``limit``."""

    def __init__(self, clock: FakeClock, limit: int) -> None:
        self.clock = clock
        self.limit = limit
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.delays.append(seconds)
        self.clock.now += seconds
        return len(self.delays) >= self.limit


TEXT = websocket.ABNF.OPCODE_TEXT
CLOSE = websocket.ABNF.OPCODE_CLOSE


class FakeSocket:
    """Plays a scripted list of frames (or exceptions) to the listener."""

    def __init__(self, frames: list[Any], clock: FakeClock | None = None, hold: float = 0) -> None:
        self.frames: list[tuple[int, bytes] | BaseException] = list(frames)
        self.sent: list[str] = []
        self.clock = clock
        self.hold = hold  # fake seconds that pass on each receive
        self.pings = 0
        self.shut = False

    def send(self, data: str) -> None:
        self.sent.append(data)

    def settimeout(self, timeout: float) -> None:
        pass

    def ping(self) -> None:
        self.pings += 1

    def recv_data(self, control_frame: bool = False) -> tuple[int, bytes]:
        if self.clock is not None:
            self.clock.now += self.hold
        if not self.frames:
            raise websocket.WebSocketConnectionClosedException("closed")
        frame = self.frames.pop(0)
        if isinstance(frame, BaseException):
            raise frame
        return frame

    def shutdown(self) -> None:
        self.shut = True

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def text(payload: dict[str, Any]) -> tuple[int, bytes]:
    return TEXT, json.dumps(payload).encode()


def close(code: int) -> tuple[int, bytes]:
    return CLOSE, code.to_bytes(2, "big") + b"bye"


def make(
    mod: ModuleType,
    connect: Any,
    *,
    limit: int,
    rand: float = 1.0,
    config: tuple[str, str] = ("ws://ntr.invalid/ws/announce", TOKEN),
) -> tuple[Any, Waits, FakeClock, RecordingLog, list[str]]:
    clock = FakeClock()
    waits = Waits(clock, limit)
    log = RecordingLog()
    relayed: list[str] = []
    listener = mod.AnnounceListener(
        lambda: config,
        relayed.append,
        logger=log,
        token_setting="[ntr_playlist] admin_token",
        connect=connect,
        wait=waits,
        clock=clock,
        rand=lambda: rand,
    )
    return listener, waits, clock, log, relayed


def refused(url: str, timeout: float) -> Any:
    raise ConnectionRefusedError("refused")


def test_backoff_doubles_from_two_seconds_up_to_sixty(sopel_module: ModuleType) -> None:
    listener, waits, _, log, _ = make(sopel_module, refused, limit=9)
    listener.run()
    assert waits.delays == [2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert any("refused" in msg for level, msg in log.records if level == "warning")


def test_backoff_has_jitter_and_first_retry_is_within_two_seconds(
    sopel_module: ModuleType,
) -> None:
    listener, waits, _, _, _ = make(sopel_module, refused, limit=3, rand=0.0)
    listener.run()
    assert waits.delays == [1, 2, 4]
    for r in (0.0, 0.3, 0.99):
        jittered = sopel_module.AnnounceListener(
            lambda: ("", ""), print, logger=RecordingLog(), rand=lambda r=r: r
        ).next_delay(0)
        assert 1.0 <= jittered <= 2.0
    real = sopel_module.AnnounceListener(lambda: ("", ""), print, logger=RecordingLog())
    samples = {round(real.next_delay(3), 6) for _ in range(50)}
    assert len(samples) > 1 and all(8 <= s <= 16 for s in samples)
    assert all(real.next_delay(50) <= 60 for _ in range(50))


def test_backoff_resets_after_a_stable_connection(sopel_module: ModuleType) -> None:
    clock_box: dict[str, Any] = {}
    calls = {"n": 0}

    def connect(url: str, timeout: float) -> Any:
        calls["n"] += 1
        if calls["n"] in (1, 2, 3):
            raise ConnectionRefusedError("down")
        # the 4th connection stays up for 40 (fake) seconds, then the server restarts
        return FakeSocket(
            [text({"type": "status", "subscribers": 1}), close(1012)],
            clock=clock_box["clock"],
            hold=20,
        )

    listener, waits, clock, _, _ = make(sopel_module, connect, limit=4)
    clock_box["clock"] = clock
    listener.run()
    assert waits.delays == [2, 4, 8, 2]


def test_a_short_lived_connection_does_not_reset_the_backoff(sopel_module: ModuleType) -> None:
    def connect(url: str, timeout: float) -> Any:
        return FakeSocket([text({"type": "status", "subscribers": 1}), close(1011)])

    listener, waits, _, _, _ = make(sopel_module, connect, limit=4)
    listener.run()
    assert waits.delays == [2, 4, 8, 16]


def test_auth_failure_is_logged_clearly_and_backs_off(sopel_module: ModuleType) -> None:
    sockets: list[FakeSocket] = []

    def connect(url: str, timeout: float) -> Any:
        sockets.append(FakeSocket([close(4001)]))
        return sockets[-1]

    listener, waits, _, log, relayed = make(sopel_module, connect, limit=3)
    listener.run()
    assert listener.last_close_code == 4001
    assert all(d >= 30 for d in waits.delays), waits.delays
    errors = [msg for level, msg in log.records if level == "error"]
    assert len(errors) == 3
    assert "4001" in errors[0] and "[ntr_playlist] admin_token" in errors[0]
    assert TOKEN not in " ".join(msg for _, msg in log.records)
    assert relayed == []


def test_subscribes_first_then_relays_announces_and_ignores_status(
    sopel_module: ModuleType,
) -> None:
    sock = FakeSocket(
        [
            text({"type": "status", "subscribers": 1}),
            text({"type": "announce", "message": "Now Playing: Song #1: A by B - u"}),
            text({"type": "status", "subscribers": 2}),
            (TEXT, b"not json"),
            text({"type": "mystery", "message": "no"}),
            text({"type": "announce", "message": "Line\r\none\x00\x01 \x03two"}),
            text({"type": "announce", "message": "\r\n"}),
            close(1000),
        ]
    )
    listener, _, _, _, relayed = make(sopel_module, lambda u, t: sock, limit=1)
    listener.run()
    assert json.loads(sock.sent[0]) == {"type": "subscribe", "token": TOKEN, "acks": True}
    assert relayed == ["Now Playing: Song #1: A by B - u", "Line one two"]
    assert listener.last_announce == "Line one two"
    assert sock.shut


def test_silent_socket_is_pinged_then_dropped(sopel_module: ModuleType) -> None:
    timeout = websocket.WebSocketTimeoutException("timed out")
    sock = FakeSocket([timeout, timeout])
    listener, waits, _, log, _ = make(sopel_module, lambda u, t: sock, limit=1)
    listener.run()
    assert sock.pings == 1
    assert waits.delays == [2]
    assert any("silent" in msg for _, msg in log.records)


def test_relay_errors_do_not_kill_the_listener(sopel_module: ModuleType) -> None:
    sock = FakeSocket(
        [text({"type": "announce", "message": "one"}), text({"type": "announce", "message": "two"})]
    )
    seen: list[str] = []

    def boom(msg: str) -> None:
        seen.append(msg)
        raise RuntimeError("irc down")

    log = RecordingLog()
    listener = sopel_module.AnnounceListener(
        lambda: ("ws://x", TOKEN),
        boom,
        logger=log,
        connect=lambda u, t: sock,
        wait=lambda s: True,
    )
    listener.run()
    assert seen == ["one", "two"]
    assert [level for level, _ in log.records].count("exception") == 2


def test_unconfigured_listener_idles_and_rereads_settings(sopel_module: ModuleType) -> None:
    config = {"value": ("", "")}
    connects: list[str] = []

    def connect(url: str, timeout: float) -> Any:
        connects.append(url)
        raise ConnectionRefusedError

    clock = FakeClock()
    waits = Waits(clock, 4)
    log = RecordingLog()

    def wait(seconds: float) -> bool:
        if len(waits.delays) == 1:
            config["value"] = ("ws://configured", TOKEN)
        return waits(seconds)

    listener = sopel_module.AnnounceListener(
        lambda: config["value"],
        print,
        logger=log,
        connect=connect,
        wait=wait,
        clock=clock,
        rand=lambda: 1.0,
    )
    listener.run()
    assert waits.delays[0] <= 2.0 and waits.delays[1] <= 2.0
    assert connects and connects[0] == "ws://configured"
    assert sum(1 for level, _ in log.records if level == "warning" and "not set" in _) == 1


def test_stop_interrupts_the_backoff_wait_quickly(sopel_module: ModuleType) -> None:
    log = RecordingLog()
    listener = sopel_module.AnnounceListener(
        lambda: (f"ws://127.0.0.1:{free_port()}/ws/announce", TOKEN), print, logger=log
    )
    listener.start()
    time.sleep(0.3)  # refused at once, now waiting out the backoff
    started = time.monotonic()
    assert listener.stop(timeout=2)
    assert time.monotonic() - started < 2.0
    assert not listener.alive


def test_stop_wakes_a_blocked_receive_and_joins_quickly(sopel_module: ModuleType) -> None:
    standin = NtrStandIn(TOKEN).start()
    try:
        relayed: list[str] = []
        listener = sopel_module.AnnounceListener(
            lambda: (standin.ws_url, TOKEN), relayed.append, logger=RecordingLog()
        )
        listener.start()
        assert listener.subscribed.wait(5)
        assert standin.announce("Now Playing: live") == 1
        deadline = time.monotonic() + 5
        while not relayed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relayed == ["Now Playing: live"]
        started = time.monotonic()
        assert listener.stop(timeout=3)
        assert time.monotonic() - started < 2.0
        names = [t.name for t in threading.enumerate()]
        assert "ntr-announce-listener" not in names
    finally:
        standin.stop()


def test_reconnects_after_the_server_restarts(sopel_module: ModuleType) -> None:
    standin = NtrStandIn(TOKEN).start()
    relayed: list[str] = []
    listener = sopel_module.AnnounceListener(
        lambda: (standin.ws_url, TOKEN), relayed.append, logger=RecordingLog()
    )
    listener.start()
    try:
        assert listener.subscribed.wait(5)
        standin.kick_all(1012)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            if len(standin.subscribe_attempts) >= 2 and standin.clients:
                break
            time.sleep(0.05)
        assert len(standin.subscribe_attempts) == 2 and standin.clients
        assert listener.subscribed.wait(5)
        standin.announce("after restart")
        deadline = time.monotonic() + 5
        while not relayed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert relayed == ["after restart"]
    finally:
        assert listener.stop(timeout=3)
        standin.stop()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain", "plain"),
        ("a\r\nPRIVMSG #x :b", "a PRIVMSG #x :b"),
        ("nul\x00byte", "nulbyte"),
        ("\x02bold\x02 \x0304red", "bold red"),
        ("  tab\tsep  ", "tab sep"),
        ("del\x7f c1\x85x", "del c1 x"),
    ],
)
def test_clean_line(sopel_module: ModuleType, raw: str, clean: str) -> None:
    assert sopel_module.clean_line(raw) == clean


def test_sopel_package_exposes_the_single_file_as_an_entry_point() -> None:
    import tomllib

    meta = tomllib.loads((SOPEL_PLUGIN.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["entry-points"]["sopel.plugins"] == {"ntr_playlist": "ntr_playlist"}
    assert meta["tool"]["setuptools"]["py-modules"] == ["ntr_playlist"]
    deps = " ".join(meta["project"]["dependencies"])
    assert "sopel" in deps and "websocket-client" in deps


# --- round 2: relay name, acks, hostile lines -------------------------------------------------


@pytest.fixture(params=["sopel", "limnoria"])
def client_module(request: pytest.FixtureRequest, sopel_module: ModuleType) -> ModuleType:
    """The shared client code, from each plugin's own copy."""
    if request.param == "sopel":
        return sopel_module
    from tests.support.compat_plugins import load_module

    return load_module(LIMNORIA_CLIENT, "ntrclient_under_test")


class EventSocket(FakeSocket):
    """A FakeSocket that logs its sends into a shared event list, next to the relays."""

    def __init__(self, frames: list[Any], events: list[tuple[str, Any]]) -> None:
        super().__init__(frames)
        self.events = events

    def send(self, data: str) -> None:
        super().send(data)
        self.events.append(("send", json.loads(data)))


def test_subscribe_names_the_relay_and_asks_for_acks(client_module: ModuleType) -> None:
    sock = FakeSocket([close(1000)])
    listener = client_module.AnnounceListener(
        lambda: ("ws://x", TOKEN),
        print,
        logger=RecordingLog(),
        relay_name=lambda: "ntrsopel@irc.example.net",
        connect=lambda u, t: sock,
        wait=lambda s: True,
    )
    listener.run()
    assert json.loads(sock.sent[0]) == {
        "type": "subscribe",
        "token": TOKEN,
        "name": "ntrsopel@irc.example.net",
        "acks": True,
    }


def test_a_broken_or_hostile_relay_name_never_breaks_the_subscribe(
    client_module: ModuleType,
) -> None:
    def boom() -> str:
        raise RuntimeError("no irc yet")

    for name_of, expected in ((boom, None), (lambda: "bot\r\n@\x01net\x00", "bot @net")):
        sock = FakeSocket([close(1000)])
        client_module.AnnounceListener(
            lambda: ("ws://x", TOKEN),
            print,
            logger=RecordingLog(),
            relay_name=name_of,
            connect=lambda u, t, sock=sock: sock,
            wait=lambda s: True,
        ).run()
        hello = json.loads(sock.sent[0])
        assert hello["acks"] is True and hello.get("name") == expected


def test_acks_each_announce_after_it_was_posted(client_module: ModuleType) -> None:
    events: list[tuple[str, Any]] = []
    sock = EventSocket(
        [
            text({"type": "status", "subscribers": 1}),
            text({"type": "announce", "id": 7, "message": "Now Playing: one"}),
            text({"type": "announce", "id": 8, "message": "Now Playing: two"}),
            text({"type": "announce", "message": "Now Playing: old server"}),
            text({"type": "announce", "id": 9, "message": "\r\n\x01"}),
            text({"type": "announce", "id": 10, "message": "Now Playing: boom"}),
            close(1000),
        ],
        events,
    )

    def post(msg: str) -> None:
        events.append(("posted", msg))
        if msg.endswith("two"):
            raise client_module.RelayFailed("not in #ntr\r\nQUIT")
        if msg.endswith("boom"):
            raise OSError("socket gone")

    log = RecordingLog()
    client_module.AnnounceListener(
        lambda: ("ws://x", TOKEN), post, logger=log, connect=lambda u, t: sock, wait=lambda s: True
    ).run()
    assert events[1:] == [
        ("posted", "Now Playing: one"),
        ("send", {"type": "ack", "id": 7, "ok": True}),
        ("posted", "Now Playing: two"),
        ("send", {"type": "ack", "id": 8, "ok": False, "detail": "not in #ntr QUIT"}),
        ("posted", "Now Playing: old server"),  # no id: no ack
        ("send", {"type": "ack", "id": 9, "ok": False, "detail": "empty message"}),
        ("posted", "Now Playing: boom"),
        ("send", {"type": "ack", "id": 10, "ok": False, "detail": "OSError: socket gone"}),
    ]
    assert events[0][1]["type"] == "subscribe"
    # a refused post is a warning; an unexpected error keeps its traceback in the log
    assert [lvl for lvl, m in log.records if "not in #ntr" in m] == ["warning"]
    assert [lvl for lvl, _ in log.records].count("exception") == 1


def test_acks_travel_over_the_listeners_own_socket(client_module: ModuleType) -> None:
    standin = NtrStandIn(TOKEN).start()
    posted: list[tuple[str, str]] = []
    listener = client_module.AnnounceListener(
        lambda: (standin.ws_url, TOKEN),
        lambda msg: posted.append((threading.current_thread().name, msg)),
        logger=RecordingLog(),
        relay_name=lambda: "bot@net",
    )
    listener.start()
    try:
        assert listener.subscribed.wait(5)
        assert standin.subscribe_attempts == [
            {"type": "subscribe", "token": TOKEN, "name": "bot@net", "acks": True}
        ]
        standin.announce("Now Playing: no id")
        standin.announce("Now Playing: with id", announcement_id=41)
        deadline = time.monotonic() + 5
        while not standin.acks() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert standin.acks() == [{"type": "ack", "id": 41, "ok": True}]
        assert posted == [
            ("ntr-announce-listener", "Now Playing: no id"),
            ("ntr-announce-listener", "Now Playing: with id"),
        ]
    finally:
        assert listener.stop(timeout=3)
        standin.stop()


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x02bold\x02 \x0304,12red\x03 \x0399x \x04ff0000hex\x0f", "bold red x hex"),
        ("\x01ACTION dances\x01", "ACTION dances"),
        ("a\u2028b\x1d\x1e\x11\x16c", "a bc"),
    ],
)
def test_clean_line_drops_formatting_codes_with_their_colours(
    client_module: ModuleType, raw: str, clean: str
) -> None:
    assert client_module.clean_line(raw) == clean


# One hostile corpus for ntrbot's line cleaner and the compat copy: they must agree.
HOSTILE = [
    "", "plain", "Evil\r\nQUIT :x", "a\nPRIVMSG #x :pwned", "\r\n\r\n", "cr\ronly",
    "nul\x00byte", "\x00\x00", "\x01ACTION dances\x01", "\x01VERSION\x01 reply",
    "\x02bold\x02 \x0304red\x03 \x1funder\x1f \x0fplain \x16rev\x1d it\x1e strike",
    "\x0304,12on blue\x03 \x039x \x0399,99y \x03,5z \x031234 \x0304,text",
    "\x04ff0000hex\x04 \x04FF0000,00ff00two \x04abc short", "\x03\u0663 digits \x03\x00\x0312",
    "tab\tsep\vvt\fff", "  spaces   squashed  ", "a \r\n b\t \t c", "del\x7fete c1\x85x\x9bz",
    "u2028\u2028u2029\u2029end", "bom\ufeffhere\ufeff", "\ufeff",
    "evil\u202eLTR\u202c \u2066iso\u2069 \u2067\u2068\u202a\u202b\u202d",
    "rtl \u05e9\u05dc\u05d5\u05dd", "lm\u200e rm\u200f zw\u200d j", "🎵 emoji ✓",
    "alm\u061c arabic \u0645\u061c",
    "bad \ud800 surrogate", "\udfff\ud83c\udfb5\ud83c",
    "\u3000ideographic\xa0nbsp ", "esc\x1b[31mred\x1b[0m bell\x07",
    "T" * 2000, ("Title\r\n\x01\x0304,05 " * 200)[:2000] + " - https://sc.example/t",
    "é" * 1000 + "\u202e" + "日本" * 500, "\x03" * 2000,
]


@pytest.mark.parametrize("raw", HOSTILE, ids=range(len(HOSTILE)))
def test_clean_line_agrees_with_ntrbot_s_cleaner(client_module: ModuleType, raw: str) -> None:
    from ntrbot.text import clean

    out = client_module.clean_line(raw)
    assert out == clean(raw)
    out.encode("utf-8")  # no lone surrogate left
    assert not [c for c in out if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F]
    assert not set(out) & set("\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                              "\u200e\u200f\u061c")
    assert "  " not in out and out == out.strip()


@pytest.mark.parametrize(
    ("line", "head", "tail"),
    [
        ("Now Playing: T by A - https://sc.com/a/t1", "Now Playing: T by A -", " https://sc.com/a/t1"),
        ("no url here", "no url here", ""),
        ("http://only", "http://only", ""),
        ("url https://x in the middle", "url https://x in the middle", ""),
    ],
)
def test_split_url_keeps_the_trailing_url_apart(
    client_module: ModuleType, line: str, head: str, tail: str
) -> None:
    assert client_module.split_url(line) == (head, tail)
    assert head + tail == line


def _word_cut(text: str, size: int) -> str:
    """A framework-like cut at the last space within ``size`` bytes."""
    while len(text.encode()) > size:
        text = text[: max(0, text.rfind(" ", 0, len(text) - 1))] if " " in text else ""
    return text


@pytest.mark.parametrize("limit", [5, 40, 100, 400])
@pytest.mark.parametrize(
    "line",
    [
        "Now Playing: Song #1: " + "Title " * 300 + "by A - https://sc.example/a/t1",
        "Now Playing: Song #1: " + "曲" * 700 + " - https://sc.example/a/t1",
        "Now Playing: " + "Word " * 200,
        "Now Playing: x - https://sc.example/" + "p" * 300,
    ],
)
def test_fit_line_stays_within_the_limit_and_keeps_a_short_url(
    client_module: ModuleType, line: str, limit: int
) -> None:
    short = client_module.fit_line(line, limit, _word_cut)
    assert len(short.encode()) <= limit
    _, url = client_module.split_url(line)
    if url and len(url.encode()) <= limit // 2:
        assert short.endswith("\u2026" + url)
    if limit >= 100:
        assert len(short.encode()) >= limit * 2 // 3
    assert client_module.fit_line("short - https://x.example/1", 100, _word_cut) == (
        "short - https://x.example/1"
    )


def _self_signed(tmp: Any) -> tuple[Any, Any]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ntr compat test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_wss_to_a_remote_ntrbot_checks_the_certificate(
    sopel_module: ModuleType, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    standin = NtrStandIn(TOKEN, ssl_context=context).start()
    try:
        assert standin.ws_url.startswith("wss://")
        # not trusted: the TLS handshake fails and the token is never sent
        monkeypatch.delenv("WEBSOCKET_CLIENT_CA_BUNDLE", raising=False)
        log = RecordingLog()
        untrusted = sopel_module.AnnounceListener(
            lambda: (standin.ws_url, TOKEN), print, logger=log, wait=lambda s: True
        )
        untrusted.run()
        assert standin.subscribe_attempts == []
        assert any("CERTIFICATE_VERIFY_FAILED" in m for _, m in log.records), log.records
        # trusted (the CA the bot's admin points websocket-client at): subscribes and acks
        monkeypatch.setenv("WEBSOCKET_CLIENT_CA_BUNDLE", str(cert))
        listener = sopel_module.AnnounceListener(
            lambda: (standin.ws_url, TOKEN), print, logger=RecordingLog(),
            relay_name=lambda: "bot@net",
        )
        listener.start()
        try:
            assert listener.subscribed.wait(5)
            standin.announce("Now Playing: over TLS", announcement_id=5)
            deadline = time.monotonic() + 5
            while not standin.acks(5) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert standin.acks(5) == [{"type": "ack", "id": 5, "ok": True}]
        finally:
            assert listener.stop(timeout=3)
    finally:
        standin.stop()
