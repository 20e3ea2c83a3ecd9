"""`ntrbot backup FILE`: a consistent copy of the database via SQLite's online backup API."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ntrbot.store.files import create_private

BUSY_TIMEOUT_MS = 5000
COUNTED = ("shows", "tracks", "announcements")


class BackupError(Exception):
    """The backup was not made; the message is one line for the operator."""


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = {}
    for table in COUNTED:
        out[table] = int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    return out


def human_size(n: int) -> str:
    """`812 bytes`, `41.0 KiB`, `3.2 MiB`."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def backup(db_path: str, dest: str, *, force: bool = False) -> str:
    """Copy the live database at `db_path` to `dest` page by page while others keep
    writing (sqlite3 `Connection.backup`), check the copy, and describe it in one line."""
    target = Path(dest)
    if not Path(db_path).is_file():
        raise BackupError(f"no database at {db_path} (NTR_DB_PATH)")
    if target.exists() and not force:
        raise BackupError(f"{dest} exists; add --force to overwrite it")
    if target.exists() and target.resolve() == Path(db_path).resolve():
        raise BackupError(f"{dest} is the database itself")
    if not target.parent.is_dir():
        raise BackupError(f"no directory {target.parent}")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        src = sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=rw", uri=True,
                              timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            src.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            partial.unlink(missing_ok=True)
            create_private(partial)  # 0600: the copy holds what the database holds
            out = sqlite3.connect(partial)
            try:
                src.backup(out)
                out.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                if out.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise BackupError("the copy failed its integrity check")
                counts = _counts(out)
            finally:
                out.close()
        finally:
            src.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"backup of {db_path} failed: {exc}") from None
    except OSError as exc:
        raise BackupError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    parts = ", ".join(f"{n} {table}" for table, n in counts.items())
    return f"backed up {db_path} to {dest}: {human_size(target.stat().st_size)}; {parts}"
