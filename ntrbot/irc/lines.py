"""Line safety: make data into one IRC line that fits 512 bytes with the server's prefix."""

from __future__ import annotations

import re
import unicodedata

#: RFC 1459/2812 limit for a whole line, CR LF included.
MAX_LINE_BYTES = 512
#: Used for `user@host` until the server tells us ours (ident ~10 chars, host 63 chars).
UNKNOWN_USERHOST_BYTES = 1 + 10 + 1 + 63
ELLIPSIS = "…"

_SPACE_LIKE = {"\r", "\n", "\t", "\v", "\f", "\u2028", "\u2029", "\x85"}
_TRAILING_URL = re.compile(r"(?:^|\s)((?:https?|ftp)://\S+)$")
_SPACES = re.compile(r" {2,}")


def clean(text: str) -> str:
    """Remove every control character; line breaks and tabs become one space.

    IRC formatting codes (bold, colour, CTCP's \\x01) are control characters too, so data
    can neither break the line nor dress up as a CTCP request. Lone surrogates become U+FFFD.
    """
    text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    out = []
    for ch in text:
        if ch in _SPACE_LIKE:
            out.append(" ")
        elif unicodedata.category(ch) == "Cc":
            continue
        elif ch == "\ufeff":
            continue
        else:
            out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


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
