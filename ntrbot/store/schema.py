"""The database schema as forward migrations, one per `PRAGMA user_version` step."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import aiosqlite

log = logging.getLogger(__name__)


def utc_iso(t: datetime) -> str:
    """How a time is stored: UTC ISO-8601 text."""
    return t.astimezone(UTC).isoformat()


def parse_iso(s: str) -> datetime:
    return datetime.fromisoformat(s)


# Forward migrations: MIGRATIONS[i] takes the schema from user_version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        artist TEXT NOT NULL,
        permalink_url TEXT NOT NULL,
        artwork_url TEXT,
        duration_ms INTEGER,
        license TEXT
    );
    CREATE TABLE shows (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        week_start TEXT NOT NULL UNIQUE,      -- UTC ISO-8601
        week_end TEXT NOT NULL,
        episode INTEGER
    );
    CREATE TABLE show_tracks (
        show_id INTEGER NOT NULL REFERENCES shows(id),
        track_id INTEGER NOT NULL REFERENCES tracks(id),
        position INTEGER NOT NULL,
        liked_at TEXT NOT NULL,               -- UTC ISO-8601
        PRIMARY KEY (show_id, track_id)
    );
    CREATE INDEX show_tracks_position ON show_tracks(show_id, position);
    CREATE TABLE announcements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        show_id INTEGER NOT NULL REFERENCES shows(id),
        position INTEGER NOT NULL,
        track_id INTEGER NOT NULL,
        message TEXT NOT NULL,
        announced_at TEXT NOT NULL,
        who TEXT NOT NULL,
        delivery TEXT NOT NULL
    );
    CREATE INDEX announcements_show ON announcements(show_id, position);
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: host edits that polls must keep, and retracted announcements.
    """
    ALTER TABLE show_tracks ADD COLUMN source TEXT NOT NULL DEFAULT 'like';
    CREATE TABLE removed_tracks (
        show_id INTEGER NOT NULL REFERENCES shows(id),
        track_id INTEGER NOT NULL,
        removed_at TEXT NOT NULL,
        PRIMARY KEY (show_id, track_id)
    );
    ALTER TABLE announcements ADD COLUMN retracted_at TEXT;
    """,
    # 3: per-output deliveries, the confirmed time and the air time of an announce.
    """
    ALTER TABLE announcements ADD COLUMN delivered_at TEXT;
    ALTER TABLE announcements ADD COLUMN airs_at TEXT;
    CREATE TABLE deliveries (
        announcement_id INTEGER NOT NULL REFERENCES announcements(id),
        output TEXT NOT NULL,
        ord INTEGER NOT NULL,
        state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        PRIMARY KEY (announcement_id, output)
    );
    """,
]


async def migrate(c: aiosqlite.Connection) -> None:
    """Apply the migrations the database lacks, each in its own transaction."""
    async with c.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = row[0] if row else 0
    if version > len(MIGRATIONS):
        raise RuntimeError(f"database schema {version} is newer than this ntrbot "
                           f"({len(MIGRATIONS)})")
    for i in range(version, len(MIGRATIONS)):
        await c.executescript(f"BEGIN; {MIGRATIONS[i]}; PRAGMA user_version = {i + 1}; COMMIT;")
        log.info("database schema migrated to version %d", i + 1)
