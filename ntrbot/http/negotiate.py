"""Content negotiation: does the client prefer an HTML page to JSON?"""

from __future__ import annotations

import re

from aiohttp import web

_QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")


def _accept_q(accept: str, kind: str, subtype: str) -> float:
    """The q the Accept header gives `kind/subtype` (most specific matching range wins)."""
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        media, *params = part.split(";")
        rng_kind, _, rng_sub = media.strip().lower().partition("/")
        specificity = {("*", "*"): 0, (kind, "*"): 1, (kind, subtype): 2}.get((rng_kind, rng_sub))
        if specificity is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":  # a malformed q counts as 0 ("not acceptable")
                q = float(value.strip()) if _QVALUE.fullmatch(value.strip()) else 0.0
        if specificity > best[0] or (specificity == best[0] and q > best[1]):
            best = (specificity, q)
    return best[1]


def wants_html(request: web.Request) -> bool:
    """True when the client prefers text/html to application/json (JSON wins ties)."""
    accept = request.headers.get("Accept", "")
    if not accept.strip():
        return False
    return _accept_q(accept, "text", "html") > _accept_q(accept, "application", "json")
