"""Plain data shapes shared by the poller, the database and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Track:
    """A SoundCloud track as ntrbot stores it."""

    id: int
    title: str
    artist: str
    permalink_url: str
    artwork_url: str | None = None
    duration_ms: int | None = None
    license: str | None = None


@dataclass(frozen=True)
class Like:
    """One like of the host: which track, and when it was liked (aware UTC datetime)."""

    track: Track
    liked_at: datetime


@dataclass(frozen=True)
class ShowTrack:
    """A track at a position in a show."""

    position: int
    track: Track
    liked_at: datetime

    def to_json(self) -> dict[str, Any]:
        t = self.track
        return {
            "position": self.position, "id": t.id, "title": t.title, "artist": t.artist,
            "permalink_url": t.permalink_url, "artwork_url": t.artwork_url,
            "duration_ms": t.duration_ms, "license": t.license,
            "liked_at": self.liked_at.isoformat(),
        }


@dataclass(frozen=True)
class Show:
    """A show week: [week_start, week_end), times aware in the show's time zone."""

    id: int
    week_start: datetime
    week_end: datetime
    episode: int | None = None
    tracks: list[ShowTrack] = field(default_factory=list)

    def to_json(self, with_tracks: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "week_start": self.week_start.isoformat(),
            "week_end": self.week_end.isoformat(), "episode": self.episode,
        }
        if with_tracks:
            out["tracks"] = [t.to_json() for t in self.tracks]
        return out

    def track_at(self, position: int) -> ShowTrack | None:
        if 1 <= position <= len(self.tracks):
            st = self.tracks[position - 1]
            if st.position == position:
                return st
        return next((t for t in self.tracks if t.position == position), None)


@dataclass(frozen=True)
class Announcement:
    """One announce of a show's track: what was sent, when, by whom, and how it went."""

    id: int
    show_id: int
    position: int
    track_id: int
    message: str
    announced_at: datetime
    who: str
    delivery: str  # sent | queued | failed | expired

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "show_id": self.show_id, "position": self.position,
            "track_id": self.track_id, "message": self.message,
            "announced_at": self.announced_at.isoformat(), "who": self.who,
            "delivery": self.delivery,
        }


class ImportedShow(NamedTuple):
    """A show week to merge in (legacy import): its tracks in order, with their like times."""

    week_start: datetime
    week_end: datetime
    episode: int | None
    tracks: list[tuple[Track, datetime]]


@dataclass
class ImportResult:
    """What a legacy import added: new shows, tracks, weeks already there; and per show."""

    shows_added: int = 0
    tracks_added: int = 0
    shows_present: int = 0
    per_show: list[tuple[bool, int]] = field(default_factory=list)  # (was present, added)
