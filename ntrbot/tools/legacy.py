"""`ntrbot import-legacy`: merge the old FastAPI service's SQLite playlists into ntrbot."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ntrbot.store.db import Database
from ntrbot.store.models import ImportedShow, ImportResult, Track
from ntrbot.text import clean
from ntrbot.weeks import ShowClock

# Columns the old service's tables must have; every other column is ignored.
REQUIRED = {"shows": ("id", "week_start", "week_end"),
            "tracks": ("id", "title", "artist", "permalink_url"),
            "show_tracks": ("show_id", "track_id", "position")}
OPTIONAL = {"shows": ("episode",),
            "tracks": ("artwork_url", "duration_ms", "license", "liked_at"),
            "show_tracks": ()}
LOCK_TIMEOUT = 2.0  # seconds to wait for a file another process holds locked
# Bounds on what a hostile file can make the import do or keep.
READ_SECONDS = 30.0  # all of the SQLite work of reading the file (the progress handler)
MAX_TEXT = 1000  # characters of a title, an artist
MAX_LICENSE = 100
MAX_URL = 2048  # characters of a permalink or artwork URL
MAX_TRACK_ID = 2**53  # SoundCloud ids are positive (ntrbot's manual tracks are negative)
MAX_EPISODE = 10**9  # as the episode edit accepts
MAX_DURATION_MS = 7 * 24 * 3600 * 1000
MAX_NOTES = 20  # skipped-row lines printed; then one line with how many more
# SQLite's own limits on the reading connection: values up to 8 MB are read (and a field
# over its bound skipped with a line), anything larger fails the read; short expressions
# (generated columns), no ATTACH, no worker threads.
LIMITS = {"SQLITE_LIMIT_LENGTH": 8 * 1024 * 1024, "SQLITE_LIMIT_SQL_LENGTH": 100_000,
          "SQLITE_LIMIT_EXPR_DEPTH": 100, "SQLITE_LIMIT_COMPOUND_SELECT": 10,
          "SQLITE_LIMIT_VDBE_OP": 100_000, "SQLITE_LIMIT_FUNCTION_ARG": 8,
          "SQLITE_LIMIT_ATTACHED": 0, "SQLITE_LIMIT_LIKE_PATTERN_LENGTH": 100,
          "SQLITE_LIMIT_TRIGGER_DEPTH": 1, "SQLITE_LIMIT_WORKER_THREADS": 0}

Warn = Callable[[str], None]


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


class _Notes:
    """One line per skipped row or dropped value, at most MAX_NOTES, then how many more."""

    def __init__(self, warn: Warn | None) -> None:
        self.warn = warn
        self.count = 0

    def __call__(self, text: str) -> None:
        self.count += 1
        if self.warn is not None and self.count <= MAX_NOTES:
            self.warn(text)

    def close(self) -> None:
        if self.warn is not None and self.count > MAX_NOTES:
            self.warn(f"and {self.count - MAX_NOTES} more rows or values skipped")


def _shown(value: Any) -> str:
    """A value from the file for a message: its repr, at most 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise LegacyError(f"{what} is not an ISO-8601 time: {_shown(value)}")
    try:
        t = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        raise LegacyError(f"{what} is not an ISO-8601 time: {_shown(value)}") from None
    if not 1970 <= t.year <= 2200:  # far years overflow the week arithmetic
        raise LegacyError(f"{what} is not a time from 1970 to 2200: {_shown(value)}")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t  # the old service stored UTC


def _int(value: Any) -> int | None:
    """An integer column's value; None for NULL and anything that is not a whole number
    (1e20 as a REAL, inf and NaN included)."""
    if value is None or isinstance(value, bytes):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n == value or isinstance(value, str) else None


def _text(value: Any, limit: int) -> str | None:
    """A text column's value, cleaned; None when it is longer than `limit` characters."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
    return clean(text) if len(text) <= limit else None


def _columns(conn: sqlite3.Connection) -> dict[str, dict[str, str]]:
    """For each needed table, {wanted column: the file's own spelling}."""
    found: dict[str, dict[str, str]] = {}
    # Only real tables are read: a view (a recursive one grew to gigabytes) or a virtual
    # table runs the file's own SQL.
    tables, others = {}, {}
    for name, kind, sql in conn.execute("SELECT name, type, sql FROM sqlite_master "
                                        "WHERE type IN ('table', 'view')"):
        if not isinstance(name, str):
            continue
        virtual = isinstance(sql, str) and sql.lstrip()[:14].upper() == "CREATE VIRTUAL"
        if kind == "table" and not virtual:
            tables[name.lower()] = name
        else:
            others[name.lower()] = "a virtual table" if virtual else f"a {kind}"
    for table, required in REQUIRED.items():
        if table not in tables:
            what = (f"{table!r} is {others[table]}, not a table" if table in others
                    else f"no table {table!r}")
            raise LegacyError(f"{what}: not a database of the old ntr_fetcher service")
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


def _read(conn: sqlite3.Connection, note: Warn) -> list[LegacyShow]:
    cols = _columns(conn)
    shows: dict[int, LegacyShow] = {}
    for raw_id, start, end, episode in conn.execute(
            _select(cols["shows"], ("id", "week_start", "week_end", "episode"))):
        sid = _int(raw_id)
        if sid is None:
            note(f"show id {_shown(raw_id)} is not an integer; show skipped")
            continue
        show_start = _time(start, f"show {sid} week_start")
        ep = _int(episode)
        if episode is not None and (ep is None or not 0 <= ep <= MAX_EPISODE):
            note(f"show {sid}: episode {_shown(episode)} is not 0-{MAX_EPISODE}; imported "
                 "without an episode")
            ep = None
        shows[sid] = LegacyShow(sid, show_start, _time(end, f"show {sid} week_end"), ep)
    tracks: dict[int, tuple[Track, datetime | None]] = {}
    wanted = ("id", "title", "artist", "permalink_url", "artwork_url", "duration_ms",
              "license", "liked_at")
    for row in conn.execute(_select(cols["tracks"], wanted)):
        found = _track(row, note)
        if found is not None:
            tracks[found[0].id] = found
    links = [(_int(sid), _int(tid), _int(pos) or 0) for sid, tid, pos in conn.execute(
        _select(cols["show_tracks"], ("show_id", "track_id", "position")))]
    for sid, tid, _pos in sorted(links, key=lambda r: (r[0] or 0, r[2])):
        show = shows.get(sid) if sid is not None else None
        got = tracks.get(tid) if tid is not None else None
        if show is None or got is None:
            continue
        track, liked = got
        show.tracks.append((track, liked or show.week_start))
    return sorted(shows.values(), key=lambda s: s.week_start)


def _track(row: Sequence[Any], note: Warn) -> tuple[Track, datetime | None] | None:
    """One row of the old `tracks` table, or None (with a line saying why) to skip it."""
    raw_id, title, artist, url, art, ms, lic, liked = row
    tid = _int(raw_id)
    if tid is None or not 1 <= tid <= MAX_TRACK_ID:
        note(f"track id {_shown(raw_id)} is not a SoundCloud id (1-{MAX_TRACK_ID}); "
             "track skipped")
        return None
    name, by = _text(title, MAX_TEXT), _text(artist, MAX_TEXT)
    if name is None or by is None:
        note(f"track {tid}: {'title' if name is None else 'artist'} longer than "
             f"{MAX_TEXT} characters; track skipped")
        return None
    link = _http(url)
    if link is None:
        note(f"track {tid}: permalink_url longer than {MAX_URL} characters; track skipped")
        return None
    artwork = _http(art)
    if artwork is None:
        note(f"track {tid}: artwork_url longer than {MAX_URL} characters; imported without")
    duration = _int(ms)
    if ms is not None and (duration is None or not 0 <= duration <= MAX_DURATION_MS):
        note(f"track {tid}: duration_ms {_shown(ms)} is not 0-{MAX_DURATION_MS}; "
             "imported without")
        duration = None
    license_ = _text(lic, MAX_LICENSE) if lic else None
    if lic and license_ is None:
        note(f"track {tid}: license longer than {MAX_LICENSE} characters; imported without")
    track = Track(tid, name, by, link, artwork or None, duration, license_ or None)
    return track, _time(liked, f"track {tid} liked_at") if liked else None


def _http(value: object) -> str | None:
    """An http(s) URL from the old file, else "" (a `javascript:` link never gets in);
    None when it is longer than MAX_URL characters."""
    text = _text(value, MAX_URL)
    if text is None:
        return None
    return text if text.lower().startswith(("http://", "https://")) and " " not in text else ""


def _guard(conn: sqlite3.Connection, seconds: float) -> None:
    """SQLite's limits and a time cap (the progress handler) on the reading connection."""
    for name, value in LIMITS.items():
        category = getattr(sqlite3, name, None)
        if category is not None:
            conn.setlimit(category, value)
    deadline = time.monotonic() + seconds
    conn.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    conn.execute("PRAGMA query_only = ON")


def read_legacy(path: str, warn: Warn | None = None, *,
                seconds: float = READ_SECONDS) -> list[LegacyShow]:
    """The shows of the old service's SQLite file at `path`, oldest first. Read-only, only
    its tables (never a view), within SQLite limits and `seconds` of SQLite work; each
    skipped row or dropped value is one line to `warn`."""
    if not Path(path).is_file():
        raise LegacyError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                               timeout=LOCK_TIMEOUT)
    except sqlite3.Error as exc:
        raise LegacyError(f"{path}: cannot open: {exc}") from None
    notes = _Notes(warn)
    try:
        _guard(conn, seconds)
        return _read(conn, notes)
    except LegacyError as exc:
        raise LegacyError(f"{path}: {exc}") from None
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise LegacyError(f"{path}: the database is locked (stop the old service "
                              "first)") from None
        if "interrupted" in str(exc):
            raise LegacyError(f"{path}: reading it took longer than {seconds:g} s: not a "
                              "database of the old ntr_fetcher service") from None
        raise LegacyError(f"{path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise LegacyError(f"{path}: not an SQLite database of the old service ({exc})") from None
    finally:
        notes.close()
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


def import_legacy(path: str, db_path: str, clock: ShowClock, *, dry_run: bool = False,
                  warn: Warn | None = None) -> tuple[ImportResult, list[ImportedShow]]:
    """Read `path` and merge it into the ntrbot database at `db_path` (one transaction).
    Raises LegacyError with a one-line message; `warn` gets one line per skipped row."""
    planned = plan(read_legacy(path, warn), clock)
    if dry_run and not Path(db_path).exists():
        # Nothing to merge with, and a dry run must not create the database.
        per, seen = [], set()
        for s in planned:
            per.append((s.week_start in seen, len({t.id for t, _ in s.tracks})))
            seen.add(s.week_start)
        return ImportResult(len(seen), sum(n for _, n in per), len(planned) - len(seen),
                            per), planned
    return asyncio.run(_merge(planned, db_path, clock, dry_run)), planned
