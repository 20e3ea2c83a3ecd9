"""Line safety: hostile data, long multibyte titles, trailing URL kept, 512-byte limit."""

from __future__ import annotations

import pytest

from ntrbot.irc.lines import (
    ELLIPSIS,
    MAX_LINE_BYTES,
    cut_utf8,
    fit,
    privmsg_budget,
    safe_line,
)
from ntrbot.text import clean

URL = "https://soundcloud.com/some-artist/some-track-name"
NICK, TARGET = "ntrbot", "#sewerchat"


def wire(line: str, nick: str = NICK, userhost: str | None = None) -> bytes:
    """The line as another client receives it (worst-case prefix when userhost unknown)."""
    uh = userhost or ("u" * 10 + "@" + "h" * 63)
    return f":{nick}!{uh} PRIVMSG {TARGET} :{line}\r\n".encode()


@pytest.mark.parametrize("hostile, expected", [
    ("Evil\r\nQUIT :x", "Evil QUIT :x"),
    ("a\nPRIVMSG #x :pwned", "a PRIVMSG #x :pwned"),
    ("nul\x00byte", "nulbyte"),
    ("\x01ACTION dances\x01", "ACTION dances"),
    ("\x02bold\x02 \x0304red\x03 \x1funder\x1f \x0fplain", "bold red under plain"),
    ("\x0304,12on blue\x03 \x039x \x04ff0000,00ff00hex\x04 end", "on blue x hex end"),
    ("\x0304,text", ",text"),  # a comma without a background number is text
    ("\x03\u0663\u0664 arabic digits", "\u0663\u0664 arabic digits"),  # colours are ASCII
    ("evil\u202eLTR\u202c \u2066iso\u2069 \u202a\u202b\u202d", "evilLTR iso"),
    ("lm\u200e rm\u200f alm\u061c zwj\u200d", "lm rm alm zwj\u200d"),  # ZWJ joins emoji
    ("tab\tsep", "tab sep"),
    ("bell\x07 esc\x1b[31m", "bell esc[31m"),
    ("c1\x85line\x9bnext", "c1 linenext"),
    ("u2028\u2028u2029\u2029end", "u2028 u2029 end"),
    ("del\x7fete", "delete"),
    ("  spaces   squashed  ", "spaces squashed"),
    ("bom\ufeffhere", "bomhere"),
    ("\r\n\r\n", ""),
])
def test_clean_removes_control_characters(hostile: str, expected: str) -> None:
    out = clean(hostile)
    assert out == expected
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in out)


def test_clean_replaces_lone_surrogates() -> None:
    out = clean("bad \ud800 surrogate")
    out.encode("utf-8")  # does not raise
    assert out == "bad \ufffd surrogate"  # one replacement character per lone surrogate
    assert clean("\udfff\ud83c\udfb5\ud83c") == "\ufffd\U0001f3b5\ufffd"  # pair rejoined


@pytest.mark.parametrize("text", [
    "\x0304\x03" + "12", "a \x00 b", "\u202e\u202e x", "T" * 2000 + "\r\n\x01" * 50,
    "\ufeff\ufeffbom", " \u3000 ideographic \xa0 spaces ",
])
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@pytest.mark.parametrize("text, limit", [
    ("héllo wörld", 2), ("日本語のタイトル", 7), ("🎵🎶🎵", 5), ("abc", 0), ("abc", 10),
])
def test_cut_utf8_never_splits_a_character(text: str, limit: int) -> None:
    out = cut_utf8(text, limit)
    assert len(out.encode()) <= limit
    assert text.startswith(out)


@pytest.mark.parametrize("char", ["a", "é", "日", "🎵", "ǅ"])
def test_long_title_keeps_url_and_fits(char: str) -> None:
    text = f"Now Playing: Song #3: {char * 600} by Somebody - {URL}"
    line = safe_line(text, nick=NICK, target=TARGET)
    assert line.endswith(" " + URL)
    assert ELLIPSIS in line
    assert len(wire(line)) <= MAX_LINE_BYTES
    assert line.startswith("Now Playing: Song #3: ")
    # as long as allowed: within a few bytes of the limit
    assert len(wire(line)) > MAX_LINE_BYTES - 8


def test_short_line_is_unchanged() -> None:
    text = f"Now Playing: Song #1: Title by Artist - {URL}"
    assert safe_line(text, nick=NICK, target=TARGET) == text


def test_no_url_is_cut_with_ellipsis() -> None:
    line = fit("ü" * 400, 101)
    assert line.endswith(ELLIPSIS) and len(line.encode()) <= 101


def test_url_longer_than_room_is_cut_too() -> None:
    url = "https://example.com/" + "x" * 600
    line = fit("title " + url, 200)
    assert len(line.encode()) <= 200 and line.endswith(ELLIPSIS)


def test_learned_userhost_gives_more_room() -> None:
    unknown = privmsg_budget(NICK, TARGET)
    known = privmsg_budget(NICK, TARGET, "~ntrbot@127.0.0.1")
    assert known > unknown
    text = "x" * 1000 + " " + URL
    line = safe_line(text, nick=NICK, target=TARGET, userhost="~ntrbot@127.0.0.1")
    assert len(wire(line, userhost="~ntrbot@127.0.0.1")) <= MAX_LINE_BYTES
    assert line.endswith(URL)


def test_hostile_long_title_is_one_line() -> None:
    text = "Now Playing: " + "A\r\nQUIT :x\r\n" * 100 + " - " + URL
    line = safe_line(text, nick=NICK, target=TARGET)
    assert "\r" not in line and "\n" not in line and "\x00" not in line
    assert line.endswith(URL) and len(wire(line)) <= MAX_LINE_BYTES
