"""`ntrbot import-legacy`: merge the old FastAPI service's SQLite playlists into ntrbot."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .db import Database
from .irc.lines import clean
from .models import ImportedShow, ImportResult, Track
from .weeks import ShowClock

# Columns the old service's tables must have; every other column is ignored.
REQUIRED = {"shows": ("id", "week_start", "week_end"),
            "tracks": ("id", "title", "artist", "permalink_url"),
            "show_tracks": ("show_id", "track_id", "position")}
OPTIONAL = {"shows": ("episode",),
            "tracks": ("artwork_url", "duration_ms", "license", "liked_at"),
            "show_tracks": ()}
LOCK_TIMEOUT = 2.0  # seconds to wait for a file another process holds locked


class LegacyError(Exception):
    """The file cannot be imported; the message is one line for the operator."""


@dataclass
class LegacyShow:
    """One show of the old database, its tracks in their old position order."""

    id: int
    week_start: datetime
    week_end: datetime
    episode: int | None = None
    tracks: list[tuple[Track, datetime]] = field(default_factory=list)


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise LegacyError(f"{what} is not an ISO-8601 time: {value!r}")
    try:
        t = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise LegacyError(f"{what} is not an ISO-8601 time: {value!r}") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t  # the old service stored UTC


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _columns(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """For each needed table, {wanted column: the file's own spelling}."""
    found: dict[str, dict[str, str]] = {}
    tables = {r[0].lower(): r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    for table, required in REQUIRED.items():
        if table not in tables:
            raise LegacyError(f"no table {table!r}: not a database of the old ntr_fetcher "
                              "service")
        names = {r[1].lower(): r[1] for r in conn.execute(
            f"PRAGMA table_info({_q(tables[table])})")}
        missing = [c for c in required if c not in names]
        if missing:
            raise LegacyError(f"table {table!r} has no column {missing[0]!r}: not a database "
                              "of the old ntr_fetcher service")
        cols = {c: names[c] for c in required + OPTIONAL[table] if c in names}
        cols[""] = tables[table]  # the table's own spelling
        found[table] = cols
    return found


def _q(name: str) -> str:
    """An SQL identifier from the file, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _select(cols: dict[str, str], wanted: Sequence[str]) -> str:
    picked = ", ".join(_q(cols[c]) if c in cols else "NULL" for c in wanted)
    return f'SELECT {picked} FROM {_q(cols[""])}'


def _read(conn: sqlite3.Connection) -> list[LegacyShow]:
    cols = _columns(conn)
    shows: dict[int, LegacyShow] = {}
    for raw_id, start, end, episode in conn.execute(
            _select(cols["shows"], ("id", "week_start", "week_end", "episode"))):
        sid = _int(raw_id)
        if sid is None:
            continue
        show_start = _time(start, f"show {sid} week_start")
        shows[sid] = LegacyShow(sid, show_start, _time(end, f"show {sid} week_end"),
                                _int(episode))
    tracks: dict[int, tuple[Track, datetime | None]] = {}
    wanted = ("id", "title", "artist", "permalink_url", "artwork_url", "duration_ms",
              "license", "liked_at")
    for tid, title, artist, url, art, ms, lic, liked in conn.execute(
            _select(cols["tracks"], wanted)):
        if _int(tid) is None:
            continue
        track = Track(int(tid), clean(str(title or "")), clean(str(artist or "")),
                      _http(url), _http(art) or None, _int(ms),
                      clean(str(lic)) if lic else None)
        tracks[int(tid)] = (track, _time(liked, f"track {tid} liked_at") if liked else None)
    links = [(_int(sid), _int(tid), _int(pos) or 0) for sid, tid, pos in conn.execute(
        _select(cols["show_tracks"], ("show_id", "track_id", "position")))]
    for sid, tid, _pos in sorted(links, key=lambda r: (r[0] or 0, r[2])):
        show = shows.get(sid) if sid is not None else None
        found = tracks.get(tid) if tid is not None else None
        if show is None or found is None:
            continue
        track, liked = found
        show.tracks.append((track, liked or show.week_start))
    return sorted(shows.values(), key=lambda s: s.week_start)


def _http(value: object) -> str:
    """An http(s) URL from the old file, else "" (a `javascript:` link never gets in)."""
    text = clean(str(value or ""))
    return text if text.lower().startswith(("http://", "https://")) and " " not in text else ""


def read_legacy(path: str) -> list[LegacyShow]:
    """The shows of the old service's SQLite file at `path`, oldest first (read-only)."""
    if not Path(path).is_file():
        raise LegacyError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                               timeout=LOCK_TIMEOUT)
    except sqlite3.Error as exc:
        raise LegacyError(f"{path}: cannot open: {exc}") from None
    try:
        return _read(conn)
    except LegacyError as exc:
        raise LegacyError(f"{path}: {exc}") from None
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise LegacyError(f"{path}: the database is locked (stop the old service "
                              "first)") from None
        raise LegacyError(f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise LegacyError(f"{path}: not an SQLite database of the old service ({exc})") from None
    finally:
        conn.close()


def plan(shows: Sequence[LegacyShow], clock: ShowClock) -> list[ImportedShow]:
    """Each old show in ntrbot's week that holds the middle of the old week."""
    out: list[ImportedShow] = []
    for s in shows:
        middle = s.week_start + max(s.week_end - s.week_start, timedelta(0)) / 2
        start, end = clock.week_of(middle)
        out.append(ImportedShow(start, end, s.episode, s.tracks))
    return out


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def summary(result: ImportResult, *, dry_run: bool = False) -> str:
    """`3 shows, 12 tracks imported, 1 show already present` (or what a dry run would do)."""
    verb = "would be imported" if dry_run else "imported"
    line = (f"{_n(result.shows_added, 'show')}, {_n(result.tracks_added, 'track')} {verb}, "
            f"{_n(result.shows_present, 'show')} already present")
    return f"dry run: {line}; nothing written" if dry_run else line


def describe(shows: Sequence[ImportedShow], result: ImportResult) -> list[str]:
    """One line per show of a dry run: its week, new or present, and the tracks it gains."""
    lines = []
    for show, (present, added) in zip(shows, result.per_show, strict=True):
        label = f", episode {show.episode}" if show.episode is not None else ""
        state = "already present" if present else "new show"
        lines.append(f"week of {show.week_start.date().isoformat()}{label}: {state}, "
                     f"{added} of {_n(len(show.tracks), 'track')} to add")
    return lines


async def _merge(planned: list[ImportedShow], db_path: str, clock: ShowClock,
                 dry_run: bool) -> ImportResult:
    try:
        db = await Database.open(db_path, clock.tz)
    except Exception as exc:
        raise LegacyError(f"cannot open database {db_path}: {exc}") from None
    try:
        return await db.import_shows(planned, dry_run=dry_run)
    except sqlite3.OperationalError as exc:  # "database is locked": another writer
        raise LegacyError(f"cannot write database {db_path}: {exc}") from None
    finally:
        await db.close()


def import_legacy(path: str, db_path: str, clock: ShowClock, *,
                  dry_run: bool = False) -> tuple[ImportResult, list[ImportedShow]]:
    """Read `path` and merge it into the ntrbot database at `db_path` (one transaction).
    Raises LegacyError with a one-line message."""
    planned = plan(read_legacy(path), clock)
    if dry_run and not Path(db_path).exists():
        # Nothing to merge with, and a dry run must not create the database.
        per, seen = [], set()
        for s in planned:
            per.append((s.week_start in seen, len({t.id for t, _ in s.tracks})))
            seen.add(s.week_start)
        return ImportResult(len(seen), sum(n for _, n in per), len(planned) - len(seen),
                            per), planned
    return asyncio.run(_merge(planned, db_path, clock, dry_run)), planned
