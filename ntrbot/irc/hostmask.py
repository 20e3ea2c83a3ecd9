"""IRC hostmask matching (`nick!user@host` against patterns with * and ?), case-insensitive.

Case folding is jaraco's `irc.strings.lower` (rfc1459: `[]\\` are the upper case of `{}|`,
and `^`/`~` fold together). Callers split nick!user@host with `irc.client.NickMask`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

import irc.strings


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for ch in irc.strings.lower(pattern):
        if ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def match(pattern: str, mask: str) -> bool:
    """True when the whole `mask` matches `pattern` (`*` any run, `?` one character)."""
    return _compile(pattern.strip()).fullmatch(irc.strings.lower(mask)) is not None


def matches_any(patterns: Iterable[str], mask: str) -> bool:
    """True when `mask` matches one of `patterns` (empty patterns never match)."""
    return any(match(p, mask) for p in patterns if p.strip())
