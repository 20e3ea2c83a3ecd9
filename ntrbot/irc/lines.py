"""Line safety: make data into one IRC line that fits 512 bytes with the server's prefix."""

from __future__ import annotations

import re

#: RFC 1459/2812 limit for a whole line, CR LF included.
MAX_LINE_BYTES = 512
#: Used for `user@host` until the server tells us ours (ident ~10 chars, host 63 chars).
UNKNOWN_USERHOST_BYTES = 1 + 10 + 1 + 63
ELLIPSIS = "…"

# The one line cleaner's rules; the compat plugins' `clean_line` applies the same ones (a
# test runs both over one hostile corpus). Line breaks, tabs and other space-like breaks:
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x85\u2028\u2029]")
# IRC colour codes with their colour numbers (\x03NN,NN) and hex colours (\x04RRGGBB,RRGGBB):
# a client shows neither the code nor its digits, so neither is part of the text.
_COLOURS = re.compile(r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
                      r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")
# Every other control character (C0 incl. CTCP's \x01 and the formatting codes, DEL, C1),
# the BOM, and the bidi controls that would reorder the rest of the line: embeddings,
# overrides and isolates (U+202A-E, U+2066-9) and the marks LRM, RLM, ALM (U+200E/F, U+061C).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ufeff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_TRAILING_URL = re.compile(r"(?:^|\s)((?:https?|ftp)://\S+)$")
_SPACES = re.compile(r" {2,}")


def clean(text: str) -> str:
    """`text` as one IRC-safe line; every cleaner in ntrbot is this one.

    Line breaks and tabs become a space; IRC colour codes go with their colour numbers;
    every other control character (formatting codes, CTCP's \\x01, NUL, DEL, C1), the BOM
    and bidi controls (overrides, isolates, LRM/RLM/ALM marks) are removed; runs of spaces
    become one; the ends are stripped. A lone surrogate becomes one U+FFFD (a split
    surrogate pair is rejoined), so the line always encodes as UTF-8. Cleaning a clean line
    changes nothing.
    """
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    text = _INVISIBLE.sub("", _COLOURS.sub("", _LINE_BREAKS.sub(" ", text)))
    return _SPACES.sub(" ", text).strip()


def cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `max_bytes`."""
    if max_bytes <= 0:
        return ""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", "ignore")


def fit(text: str, max_bytes: int) -> str:
    """Shorten `text` to `max_bytes` of UTF-8; a trailing URL is kept whole when it can be.

    The part before the URL is cut on a character boundary and ends with an ellipsis.
    """
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    ell = len(ELLIPSIS.encode("utf-8"))
    m = _TRAILING_URL.search(text)
    if m:
        url = m.group(1)
        head = text[: m.start(1)].rstrip()
        room = max_bytes - len(url.encode("utf-8")) - 1 - ell
        if room >= 0:
            short = cut_utf8(head, room).rstrip()
            return (short + ELLIPSIS + " " + url) if short else url
    return cut_utf8(text, max_bytes - ell).rstrip() + ELLIPSIS


def privmsg_budget(nick: str, target: str, userhost: str | None = None) -> int:
    """Bytes left for text in `:nick!user@host PRIVMSG target :text\\r\\n` as relayed."""
    uh = len(userhost.encode("utf-8")) + 1 if userhost else UNKNOWN_USERHOST_BYTES
    overhead = (1 + len(nick.encode("utf-8")) + uh + len(" PRIVMSG ")
                + len(target.encode("utf-8")) + len(" :") + 2)
    return MAX_LINE_BYTES - overhead


def safe_line(text: str, *, nick: str, target: str, userhost: str | None = None) -> str:
    """Clean `text` and fit it into one PRIVMSG to `target` sent by `nick`."""
    return fit(clean(text), privmsg_budget(nick, target, userhost))
