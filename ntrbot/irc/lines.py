"""Line safety: make data into one IRC line that fits 512 bytes with the server's prefix."""

from __future__ import annotations

import re

from ntrbot.text import clean

#: RFC 1459/2812 limit for a whole line, CR LF included.
MAX_LINE_BYTES = 512
#: Used for `user@host` until the server tells us ours (ident ~10 chars, host 63 chars).
UNKNOWN_USERHOST_BYTES = 1 + 10 + 1 + 63
ELLIPSIS = "…"
_TRAILING_URL = re.compile(r"(?:^|\s)((?:https?|ftp)://\S+)$")

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
    return shorten(text, max_bytes)


def shorten(text: str, max_bytes: int) -> str:
    """`text` cut to `max_bytes` of UTF-8 with an ellipsis, or whole when it fits."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    return cut_utf8(text, max_bytes - len(ELLIPSIS.encode("utf-8"))).rstrip() + ELLIPSIS


def privmsg_budget(nick: str, target: str, userhost: str | None = None) -> int:
    """Bytes left for text in `:nick!user@host PRIVMSG target :text\\r\\n` as relayed."""
    uh = len(userhost.encode("utf-8")) + 1 if userhost else UNKNOWN_USERHOST_BYTES
    overhead = (1 + len(nick.encode("utf-8")) + uh + len(" PRIVMSG ")
                + len(target.encode("utf-8")) + len(" :") + 2)
    return MAX_LINE_BYTES - overhead


#: Room for an announce line on a common link (a 16-byte nick, a 32-byte channel, a long
#: user@host): format_announce shortens the title, then the artist, of a longer one so that
#: the IRC cut never has to drop them. Longer nicks or channels are still cut at send time.
ANNOUNCE_ROOM = privmsg_budget("n" * 16, "#" + "c" * 31)


def safe_line(text: str, *, nick: str, target: str, userhost: str | None = None) -> str:
    """Clean `text` and fit it into one PRIVMSG to `target` sent by `nick`."""
    return fit(clean(text), privmsg_budget(nick, target, userhost))
