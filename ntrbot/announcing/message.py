"""Announcing a track: the message format, the refusals, what one announce did."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ntrbot.announcing.template import FormatFailed, render
from ntrbot.irc.lines import ANNOUNCE_ROOM, shorten
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
    (`ntrbot.text.clean`). A template that cannot render the track is a FormatError.

    A line over ANNOUNCE_ROOM bytes gets its title, then its artist, shortened with an
    ellipsis (to no less than MIN_FIELD bytes each), so a very long title still reads
    "… by Artist - URL" instead of losing the artist to the IRC cut."""
    try:
        line = clean(render(template, show, st))
        for field_name in ("title", "artist"):
            over = len(line.encode("utf-8")) - ANNOUNCE_ROOM
            if over <= 0:
                break
            t = st.track
            value = t.title if field_name == "title" else t.artist
            size = len(value.encode("utf-8"))
            if size <= MIN_FIELD:
                continue
            short = shorten(value, max(MIN_FIELD, size - over))
            t = replace(t, title=short) if field_name == "title" else replace(t, artist=short)
            st = replace(st, track=t)
            line = clean(render(template, show, st))
        return line
    except FormatFailed as exc:
        log.warning("NTR_ANNOUNCE_FORMAT %s (show %s, #%s)", exc, show.id, st.position)
        raise FormatError(f"NTR_ANNOUNCE_FORMAT {exc}") from None


#: the fewest bytes format_announce shortens a title or an artist to
MIN_FIELD = 60

MAX_DELAY = 600  # seconds an announce may wait (the stream delay, or one announce's)
