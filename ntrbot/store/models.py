"""Plain data shapes shared by the poller, the database and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from ntrbot.deliveries import FINAL, DeliveryState, OutputKind, output_kind


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
class OutputDelivery:
    """What became of one announce on one output (`irc:#chan`, `relay:name`, ...); `kind`
    is the output's kind, derived from its name."""

    output: str
    state: DeliveryState
    detail: str
    at: datetime
    kind: OutputKind = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", DeliveryState(self.state))
        object.__setattr__(self, "kind", output_kind(self.output))

    @property
    def final(self) -> bool:
        return self.state in FINAL

    def to_json(self, *, private: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"output": self.output, "state": self.state,
                               "at": self.at.isoformat()}
        if private:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Announcement:
    """One announce of a show's track: what was sent, when, by whom, and how it went.

    `delivery` is the state of the first IRC output ("failed" when IRC is off) and
    `delivered_at` the time the server confirmed it; `deliveries` has one entry per output.
    """

    id: int
    show_id: int
    position: int
    track_id: int
    message: str
    announced_at: datetime
    who: str
    delivery: DeliveryState
    delivered_at: datetime | None = None
    airs_at: datetime | None = None
    deliveries: tuple[OutputDelivery, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "delivery", DeliveryState(self.delivery))

    @property
    def aired(self) -> bool:
        """Confirmed on at least one output; with IRC off, also a relay that took it (one
        without acks says no more). With no output at all (IRC off and no relay, or a record
        older than outputs) the announce itself is what aired, unless it was cancelled,
        expired or still waiting for its air time."""
        if any(d.state == DeliveryState.DELIVERED for d in self.deliveries):
            return True
        if self.deliveries:
            # IRC off: a relay without acks (an older plugin) is the only word there is
            return (not any(d.kind is OutputKind.IRC for d in self.deliveries)
                    and any(d.kind is OutputKind.RELAY and d.state == DeliveryState.SENT
                            for d in self.deliveries))
        return self.delivery not in (DeliveryState.CANCELLED, DeliveryState.EXPIRED,
                                  DeliveryState.QUEUED)

    @property
    def never_aired(self) -> bool:
        """Every output ended without confirmation (failed, expired or cancelled)."""
        if self.deliveries:
            return all(d.final and d.state != DeliveryState.DELIVERED for d in self.deliveries)
        return self.delivery in (DeliveryState.EXPIRED, DeliveryState.CANCELLED)

    def to_json(self, *, private: bool = True) -> dict[str, Any]:
        """The one JSON form of an announcement; `private=False` drops `who` and details."""
        out: dict[str, Any] = {
            "id": self.id, "show_id": self.show_id, "position": self.position,
            "track_id": self.track_id, "message": self.message,
            "announced_at": self.announced_at.isoformat(),
            "delivery": self.delivery,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
            "airs_at": self.airs_at.isoformat() if self.airs_at else None,
            "deliveries": [d.to_json(private=private) for d in self.deliveries],
        }
        if private:
            out["who"] = self.who
        return out


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
