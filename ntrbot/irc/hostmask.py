"""IRC hostmask matching (`nick!user@host` against patterns with * and ?), case-insensitive."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_RFC1459 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ[]\\~", "abcdefghijklmnopqrstuvwxyz{}|^")


def irc_lower(s: str) -> str:
    """Lower-case by IRC rules (rfc1459 casemapping: []\\~ are upper case of {}|^)."""
    return s.translate(_RFC1459).lower()


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in irc_lower(pattern):
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def match(pattern: str, mask: str) -> bool:
    """True when the whole `mask` matches `pattern` (`*` any run, `?` one character)."""
    return _compile(pattern.strip()).fullmatch(irc_lower(mask)) is not None


def matches_any(patterns: Iterable[str], mask: str) -> bool:
    """True when `mask` matches one of `patterns` (empty patterns never match)."""
    return any(match(p, mask) for p in patterns if p.strip())


def nick_of(mask: str) -> str:
    """The nick part of `nick!user@host` (the whole string when there is no `!`)."""
    return mask.split("!", 1)[0]
