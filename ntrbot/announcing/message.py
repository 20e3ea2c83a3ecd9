"""Announcing a track: the message format, the refusals, what one announce did."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ntrbot.announcing.template import FormatFailed, render
from ntrbot.store.models import Announcement
from ntrbot.text import clean

if TYPE_CHECKING:
    from ntrbot.store.models import Show, ShowTrack

log = logging.getLogger("ntrbot.announce")  # the announce path logs as one


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


class FormatError(AnnounceError):
    """NTR_ANNOUNCE_FORMAT cannot render this track (start-up checks it on sample tracks)."""


@dataclass
class AnnounceResult:
    """What one announce did; `to_json` is the body of POST /admin/announce."""

    announcement: Announcement
    irc: str  # one human line about the first IRC output
    subscribers: int
    track: dict[str, Any] = field(default_factory=dict)

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
    """The announce line (`announce_format.render`: a track without a URL drops
    `{permalink_url}` with the separator before it), cleaned by the one line cleaner
    (`ntrbot.text.clean`). A template that cannot render the track is a FormatError."""
    try:
        return clean(render(template, show, st))
    except FormatFailed as exc:
        log.warning("NTR_ANNOUNCE_FORMAT %s (show %s, #%s)", exc, show.id, st.position)
        raise FormatError(f"NTR_ANNOUNCE_FORMAT {exc}") from None


MAX_DELAY = 600  # seconds an announce may wait (the stream delay, or one announce's)
