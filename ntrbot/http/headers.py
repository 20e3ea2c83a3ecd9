"""The security headers every response carries (CSP, nosniff, no framing, no referrer)."""

from __future__ import annotations

from collections.abc import MutableMapping

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def add_security_headers(headers: MutableMapping[str, str]) -> None:
    """Set each security header the response does not set itself."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
