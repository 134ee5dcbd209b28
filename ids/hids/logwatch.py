"""Follow a log file like `tail -F`: new complete lines to a callback, across rotation and truncation.

Rotation (the path now names a different inode) reads what is left of the old file first, then
follows the new one from its start; truncation (the file got shorter) restarts at offset 0; a path
that is briefly missing is waited for. Only complete lines are delivered (a partial last line waits
for its newline). The audit (ids.audit) parses the lines; this module only moves them.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import BinaryIO


class LogTail:
    """Follow `path`; `poll()` delivers new lines (optionally only those matching `pattern`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        on_line: Callable[[str], None],
        *,
        from_start: bool = False,
        pattern: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.on_line = on_line
        self.pattern = re.compile(pattern) if pattern else None
        self._fh: BinaryIO | None = None
        self._ino = -1
        self._partial = b""
        self.lines = 0
        self.rotations = 0
        self._open(seek_end=not from_start)

    def _open(self, *, seek_end: bool) -> None:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across polls, closed in close()
        except OSError:
            return
        self._fh = fh
        self._ino = os.fstat(fh.fileno()).st_ino
        if seek_end:
            fh.seek(0, os.SEEK_END)

    def poll(self) -> int:
        """Deliver the lines written since the last poll; returns how many."""
        n = 0
        if self._fh is None:
            self._open(seek_end=False)
            if self._fh is None:
                return 0
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        fh = self._fh
        if st is not None and st.st_ino != self._ino:  # rotated: drain the old file, then switch
            n += self._read(fh)
            fh.close()
            self._fh = None
            self._partial = b""
            self.rotations += 1
            self._open(seek_end=False)
            if self._fh is None:
                return n
            fh = self._fh
        elif st is not None and st.st_size < fh.tell():  # truncated in place
            fh.seek(0)
            self._partial = b""
        return n + self._read(fh)

    def _read(self, fh: BinaryIO) -> int:
        data = fh.read()
        if not data:
            return 0
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        n = 0
        for raw in complete:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if self.pattern is None or self.pattern.search(line):
                self.on_line(line)
                n += 1
        self.lines += n
        return n

    def run(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            self.poll()
            stop.wait(interval)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
