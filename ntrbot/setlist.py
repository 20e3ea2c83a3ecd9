"""A show's setlist: tracks in announce order with times, rendered as md, txt, csv or json."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import Announcement, Show

FORMATS = {"md": "text/markdown", "txt": "text/plain", "csv": "text/csv",
           "json": "application/json"}


@dataclass(frozen=True)
class SetlistRow:
    """One track of the setlist; announce fields are None for tracks never announced."""

    position: int
    track_id: int
    title: str
    artist: str
    permalink_url: str
    license: str | None
    first_announced_at: datetime | None  # in the show's time zone
    offset_seconds: int | None  # from the show start
    announce_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position, "track_id": self.track_id, "title": self.title,
            "artist": self.artist, "permalink_url": self.permalink_url,
            "license": self.license, "announce_count": self.announce_count,
            "first_announced_at": (self.first_announced_at.isoformat()
                                   if self.first_announced_at else None),
            "offset_seconds": self.offset_seconds,
            "offset": offset_text(self.offset_seconds),
        }


def offset_text(seconds: int | None) -> str | None:
    """`+H:MM:SS` from the show start (negative before it), or None."""
    if seconds is None:
        return None
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    return f"{sign}{h}:{rest // 60:02d}:{rest % 60:02d}"


def build(show: Show, announcements: list[Announcement]) -> list[SetlistRow]:
    """Announced tracks by first announce time, then the rest in playlist order."""
    first: dict[int, datetime] = {}
    count: dict[int, int] = {}
    for a in announcements:
        count[a.track_id] = count.get(a.track_id, 0) + 1
        if a.track_id not in first or a.announced_at < first[a.track_id]:
            first[a.track_id] = a.announced_at
    tz = show.week_start.tzinfo
    rows = []
    for st in show.tracks:
        at = first.get(st.track.id)
        rows.append(SetlistRow(
            position=st.position, track_id=st.track.id, title=st.track.title,
            artist=st.track.artist, permalink_url=st.track.permalink_url,
            license=st.track.license, first_announced_at=at.astimezone(tz) if at else None,
            offset_seconds=int((at - show.week_start).total_seconds()) if at else None,
            announce_count=count.get(st.track.id, 0)))
    announced = sorted((r for r in rows if r.first_announced_at),
                       key=lambda r: (r.first_announced_at, r.position))
    return announced + [r for r in rows if not r.first_announced_at]


def _title(show: Show) -> str:
    episode = f"Episode {show.episode} — " if show.episode is not None else ""
    return f"NtR {episode}week of {show.week_start.strftime('%Y-%m-%d %H:%M %Z')}"


def _time(r: SetlistRow) -> str:
    if r.first_announced_at is None:
        return "not announced"
    return f"{r.first_announced_at.strftime('%H:%M:%S')} ({offset_text(r.offset_seconds)})"


def render(show: Show, rows: list[SetlistRow], fmt: str) -> str:
    """The setlist as text in `fmt` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps({"show": show.to_json(with_tracks=False),
                           "setlist": [r.to_json() for r in rows]}, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["order", "position", "announced_at", "offset", "title", "artist",
                         "url", "license", "announce_count"])
        for i, r in enumerate(rows, 1):
            writer.writerow([i, r.position,
                             r.first_announced_at.isoformat() if r.first_announced_at else "",
                             offset_text(r.offset_seconds) or "", r.title, r.artist,
                             r.permalink_url, r.license or "", r.announce_count])
        return out.getvalue()
    if fmt == "md":
        lines = [f"# {_title(show)}", "", "| # | time | title | artist | license |",
                 "|---|---|---|---|---|"]
        for i, r in enumerate(rows, 1):
            title = r.title.replace("|", "\\|").replace("]", "\\]")
            artist = r.artist.replace("|", "\\|")
            lines.append(f"| {i} | {_time(r)} | [{title}]({r.permalink_url}) | "
                         f"{artist} | {r.license or ''} |")
        return "\n".join(lines) + "\n"
    lines = [_title(show), ""]
    for i, r in enumerate(rows, 1):
        lines.append(f"{i:>2}. {_time(r)}  {r.title} by {r.artist} - {r.permalink_url}"
                     + (f" [{r.license}]" if r.license else ""))
    return "\n".join(lines) + "\n"
