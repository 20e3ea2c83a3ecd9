"""A show's setlist: tracks in announce order with times, rendered as md, txt, csv or json."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ntrbot.deliveries import DeliveryState
from ntrbot.store.models import Announcement, Show
from ntrbot.text import clean

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
    #: for a track announced but never aired: how its last announce ended (failed, ...)
    never_aired: str | None = None

    @property
    def played(self) -> bool:
        return self.first_announced_at is not None

    def to_json(self) -> dict[str, Any]:
        return {"never_aired": self.never_aired, **{
            "position": self.position, "track_id": self.track_id, "title": self.title,
            "artist": self.artist, "permalink_url": self.permalink_url,
            "license": self.license, "announce_count": self.announce_count,
            "first_announced_at": (self.first_announced_at.isoformat()
                                   if self.first_announced_at else None),
            "offset_seconds": self.offset_seconds,
            "offset": offset_text(self.offset_seconds),
        }}


def offset_text(seconds: int | None) -> str | None:
    """`+H:MM:SS` from the show start (negative before it), or None."""
    if seconds is None:
        return None
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    return f"{sign}{h}:{rest // 60:02d}:{rest % 60:02d}"


def build(show: Show, announcements: list[Announcement]) -> list[SetlistRow]:
    """Played tracks by the time they aired (the server's confirmation where there is one,
    else the announce), then tracks announced but never aired, then the rest, each in
    playlist order."""
    first: dict[int, datetime] = {}
    count: dict[int, int] = {}
    missed: dict[int, str] = {}
    for a in announcements:
        if a.never_aired:
            missed[a.track_id] = a.delivery if a.delivery != DeliveryState.SENT else "failed"
            continue
        at = a.delivered_at or a.announced_at
        count[a.track_id] = count.get(a.track_id, 0) + 1
        if a.track_id not in first or at < first[a.track_id]:
            first[a.track_id] = at
    tz = show.week_start.tzinfo
    rows = []
    for st in show.tracks:
        first_at = first.get(st.track.id)
        rows.append(SetlistRow(
            position=st.position, track_id=st.track.id, title=st.track.title,
            artist=st.track.artist, permalink_url=st.track.permalink_url,
            license=st.track.license,
            first_announced_at=first_at.astimezone(tz) if first_at else None,
            offset_seconds=(int((first_at - show.week_start).total_seconds())
                            if first_at else None),
            announce_count=count.get(st.track.id, 0),
            never_aired=missed.get(st.track.id) if first_at is None else None))
    announced = sorted((r for r in rows if r.first_announced_at),
                       key=lambda r: (r.first_announced_at, r.position))
    return (announced + [r for r in rows if not r.played and r.never_aired]
            + [r for r in rows if not r.played and not r.never_aired])


# --- making track data inert (titles are written by any SoundCloud uploader) -------------
# One line per field: `clean`, the one line cleaner (ntrbot/text.py).

CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def csv_cell(text: str) -> str:
    """A spreadsheet cell that cannot be a formula: a leading ' before = + - @ TAB CR."""
    if text.startswith(CSV_TRIGGERS) or text.lstrip(" ").startswith(CSV_TRIGGERS[:4]):
        return "'" + text
    return text


def md_text(text: str) -> str:
    """Inline Markdown text shown as written: HTML and Markdown specials escaped, one line."""
    text = "".join(_HTML.get(c, c) for c in clean(text))
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_url(url: str) -> str | None:
    """An http(s) URL safe inside a Markdown link and a table cell, else None."""
    url = clean(url)
    if not url.lower().startswith(("http://", "https://")):
        return None
    return quote(url, safe=":/?#@!$&'*+,;=%~[]")


def _md_link(r: SetlistRow) -> str:
    url = md_url(r.permalink_url)
    return f"[{md_text(r.title)}]({url})" if url else md_text(r.title)


def _title(show: Show) -> str:
    episode = f"Episode {show.episode} — " if show.episode is not None else ""
    return f"NtR {episode}week of {show.week_start.strftime('%Y-%m-%d %H:%M %Z')}"


def _time(r: SetlistRow) -> str:
    if r.first_announced_at is None:
        return f"never aired ({r.never_aired})" if r.never_aired else "not announced"
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
                         "url", "license", "announce_count", "outcome"])
        for i, r in enumerate(rows, 1):
            writer.writerow([i, r.position,
                             r.first_announced_at.isoformat() if r.first_announced_at else "",
                             offset_text(r.offset_seconds) or "", csv_cell(r.title),
                             csv_cell(r.artist), csv_cell(r.permalink_url),
                             csv_cell(r.license or ""), r.announce_count,
                             "played" if r.played else (
                                 f"never aired: {r.never_aired}" if r.never_aired
                                 else "not announced")])
        return out.getvalue()
    if fmt == "md":
        lines = [f"# {_title(show)}", ""]
        for heading, part in _parts(rows):
            if heading:
                lines += ["", f"## {heading}", ""]
            lines += ["| # | time | title | artist | license |", "|---|---|---|---|---|"]
            for i, r in part:
                lines.append(f"| {i} | {_time(r)} | {_md_link(r)} | {md_text(r.artist)} | "
                             f"{md_text(r.license or '')} |")
        return "\n".join(lines) + "\n"
    lines = [_title(show), ""]
    for heading, part in _parts(rows):
        if heading:
            lines += ["", heading + ":"]
        for i, r in part:
            url = clean(r.permalink_url)
            lines.append(f"{i:>2}. {_time(r)}  {clean(r.title)} by {clean(r.artist)}"
                         + (f" - {url}" if url else "")
                         + (f" [{clean(r.license)}]" if r.license else ""))
    return "\n".join(lines) + "\n"


def _parts(rows: list[SetlistRow]) -> list[tuple[str, list[tuple[int, SetlistRow]]]]:
    """The played rows, then (under their own heading) those announced but never aired,
    then the rest; numbered on through all three."""
    numbered = list(enumerate(rows, 1))
    played = [(i, r) for i, r in numbered if r.played]
    missed = [(i, r) for i, r in numbered if not r.played and r.never_aired]
    rest = [(i, r) for i, r in numbered if not r.played and not r.never_aired]
    parts: list[tuple[str, list[tuple[int, SetlistRow]]]] = [("", played + rest)] if not missed \
        else [("", played), ("Announced, never aired", missed), ("Not announced", rest)]
    return [(h, p) for h, p in parts if p or not h]
