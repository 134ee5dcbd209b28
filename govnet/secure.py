"""Private state files: created with their final mode (0600 files, 0700 directories), never chmod'ed
after the bytes are already readable by others.

Ledgers, EVE files, HSM catalogs and archives, HIDS baselines and credential files name users,
sources and decisions or hold secrets; under the default umask (022) a plain `open()` makes them
world-readable for as long as it takes to chmod them, or forever. Every writer of such a file goes
through these helpers instead.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Everything created inside (by us or by a library such as SQLite: -wal, -journal) is private.
    The umask is process-wide: overlapping uses from several threads share one 077 window, and the
    umask from before the first is restored when the last leaves (two threads each saving and
    restoring would leave 077 behind for the whole process)."""
    global _umask_depth, _umask_saved
    with _umask_lock:
        if _umask_depth == 0:
            _umask_saved = os.umask(0o077)
        _umask_depth += 1
    try:
        yield
    finally:
        with _umask_lock:
            _umask_depth -= 1
            if _umask_depth == 0:
                os.umask(_umask_saved)


_umask_lock = threading.Lock()
_umask_depth = 0
_umask_saved = 0o022


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Make `path` (and missing parents) as 0700 directories; an existing directory keeps its mode."""
    p = Path(path)
    with private_umask():
        p.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return p


def open_private(path: str | os.PathLike[str], flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """`os.open` with mode 0600 at creation (the umask can only take bits away, never add)."""
    return os.open(path, flags | os.O_CLOEXEC, FILE_MODE)


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> Path:
    """Write `data` to `path` atomically: a temp file beside it (created with `mode`), fsync, rename
    over. A reader sees the old file or the new one, never half of one."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return p


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` atomically (a 0600 temp file beside it, fsync, rename over)."""
    return write_atomic(path, data, FILE_MODE)


def is_private(path: str | os.PathLike[str]) -> bool:
    """True when neither group nor others may read, write or enter `path`."""
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create `path` empty with mode 0600 if it does not exist (before SQLite opens it: SQLite gives its
    -wal, -shm and -journal files the database file's mode)."""
    p = Path(path)
    os.close(open_private(p, os.O_WRONLY | os.O_CREAT))
    return p
