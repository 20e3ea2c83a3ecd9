"""Announcing a track: the message format, the refusals, what one announce did."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .irc.lines import clean
from .models import Announcement

if TYPE_CHECKING:
    from .models import Show, ShowTrack

log = logging.getLogger(__name__)

# `{permalink_url}` (with a conversion or format spec) and the separator before it.
_URL_FIELD = re.compile(r"\s*(?:[-\u2013\u2014|:\u00b7]\s*)?"
                        r"\{permalink_url(?:![rsa])?(?::[^{}]*)?\}")


class AnnounceError(Exception):
    """A refused announce; `extra` says more (it goes into the JSON body of the answer)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(AnnounceError):
    """No such show, or no such position in it."""


class AlreadyAnnounced(AnnounceError):
    """The track was announced already (`force` announces it again)."""


@dataclass
class AnnounceResult:
    """What one announce did; `to_json` is the body of POST /admin/announce."""

    announcement: Announcement
    irc: str  # one human line about the first IRC output
    subscribers: int
    track: dict[str, Any] = field(default_factory=dict)
    line: str | None = None

    @property
    def announcement_id(self) -> int:
        return self.announcement.id

    @property
    def delivery(self) -> str:
        return self.announcement.delivery

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "announced", **self.announcement.to_json(),
            "announcement_id": self.announcement.id, "irc": self.irc,
            "subscribers": self.subscribers, "track": self.track,
        }


def format_announce(template: str, show: Show, st: ShowTrack) -> str:
    """The announce line. A track without a URL (a manual track may have none) drops the
    `{permalink_url}` field together with the separator before it (" - "). The line is
    cleaned by the one line cleaner (`ntrbot.irc.lines.clean`)."""
    t = st.track
    if not t.permalink_url:
        template = _URL_FIELD.sub("", template)
    values = {
        "position": st.position, "title": t.title, "artist": t.artist,
        "permalink_url": t.permalink_url, "artwork_url": t.artwork_url or "",
        "duration_ms": t.duration_ms if t.duration_ms is not None else "",
        "license": t.license or "", "liked_at": st.liked_at.isoformat(), "id": t.id,
        "episode": show.episode if show.episode is not None else "", "show_id": show.id,
    }
    return clean(template.format_map(values))


MAX_DELAY = 600  # seconds an announce may wait (the stream delay, or one announce's)
