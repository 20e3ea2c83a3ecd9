"""The SoundCloud errors: one line each, the client_id masked."""

from __future__ import annotations

import re

_CLIENT_ID_PARAM_RE = re.compile(r"(client_id=)[^&\s\"'#]+", re.IGNORECASE)
_MAX_ERROR_LEN = 300


class SoundCloudError(Exception):
    """Any failure talking to SoundCloud; `str()` is one line and never holds the client_id."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        text = " ".join(_CLIENT_ID_PARAM_RE.sub(r"\1***", str(message)).split())
        if len(text) > _MAX_ERROR_LEN:
            text = text[: _MAX_ERROR_LEN - 1] + "…"
        super().__init__(text)
        self.status = status


class SoundCloudNotFound(SoundCloudError):
    """SoundCloud answered 404: no such user, track or URL."""
