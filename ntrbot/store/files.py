"""Private files: the database and its backups are created 0600 whatever the umask."""

from __future__ import annotations

import os


def create_private(path: str | os.PathLike[str]) -> None:
    """Create `path` empty with mode 0600 whatever the umask, unless it exists (an empty
    file is an empty SQLite database). SQLite gives a database's -wal, -shm and -journal
    files the database's own mode, so they are 0600 too."""
    if str(path) == ":memory:" or str(path).startswith("file:"):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # os.open's mode is narrowed by the umask (0277 makes 0400)
    finally:
        os.close(fd)
