"""Real-time watch of paths: Linux inotify through ctypes, with a stat-polling fallback.

`Watcher(paths, on_event)` calls `on_event(path, kind)` for kind in created, deleted, modified,
attrib (mode/owner/times), moved_from, moved_to. Directories are watched recursively, new ones as
they appear. `PollingWatcher` has the same interface for file systems without inotify; it rescans
metadata (no hashing) every `interval` seconds, so its latency is up to one interval, where
inotify's is the scheduling delay (see README for the measured figures).
A `FileMonitor` ties either watcher to a baseline: each event re-checks that one path and hands the
classified change (see integrity.classify) to a callback.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import stat
import struct
import threading
from collections.abc import Callable, Iterable

from govnet.errors import IdsError
from ids.hids.integrity import Baseline, Change, Entry, classify, scan

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_MASK = (
    IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
    | IN_DELETE_SELF
)
_EVENT = struct.Struct("iIII")
_KINDS = (
    (IN_CREATE, "created"),
    (IN_DELETE, "deleted"),
    (IN_MOVED_FROM, "moved_from"),
    (IN_MOVED_TO, "moved_to"),
    (IN_MODIFY | IN_CLOSE_WRITE, "modified"),
    (IN_ATTRIB, "attrib"),
)

OnEvent = Callable[[str, str], None]


class Watcher:
    """inotify watches on paths (recursively); `poll(timeout)` dispatches what happened."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]], on_event: OnEvent) -> None:
        self.on_event = on_event
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise IdsError(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        self.fd: int = fd
        self._wd: dict[int, str] = {}
        self.overflows = 0
        for p in paths:
            self._add_tree(os.path.abspath(p))

    def _add(self, path: str) -> None:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), _MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR):
                return
            if err == errno.ENOSPC:
                raise IdsError(f"{path}: inotify watch limit reached (fs.inotify.max_user_watches)")
            raise IdsError(f"{path}: inotify_add_watch: {os.strerror(err)}")
        self._wd[wd] = path

    def _add_tree(self, root: str) -> None:
        self._add(root)
        if os.path.isdir(root) and not os.path.islink(root):
            for d, subdirs, _files in os.walk(root):
                for s in subdirs:
                    full = os.path.join(d, s)
                    if not os.path.islink(full):
                        self._add(full)

    def poll(self, timeout: float = 0.5) -> int:
        """Wait up to timeout for events and dispatch them; returns how many were dispatched."""
        if not select.select([self.fd], [], [], timeout)[0]:
            return 0
        n = 0
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return n
            off = 0
            while off + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, off)
                name = data[off + _EVENT.size : off + _EVENT.size + length].rstrip(b"\0")
                off += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    self.overflows += 1
                    self.on_event("", "overflow")
                    n += 1
                    continue
                base = self._wd.get(wd)
                if base is None:
                    continue
                if mask & IN_IGNORED:
                    self._wd.pop(wd, None)
                    continue
                path = os.path.join(base, os.fsdecode(name)) if name else base
                if mask & IN_ISDIR and mask & (IN_CREATE | IN_MOVED_TO):
                    self._add_tree(path)
                for bit, kind in _KINDS:
                    if mask & bit:
                        self.on_event(path, kind)
                        n += 1
                        break

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.poll(0.2)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class PollingWatcher:
    """The same interface by rescanning metadata every `interval` seconds (no inotify needed)."""

    def __init__(
        self, paths: Iterable[str | os.PathLike[str]], on_event: OnEvent, interval: float = 1.0
    ) -> None:
        self.paths = [os.path.abspath(p) for p in paths]
        self.on_event = on_event
        self.interval = interval
        self._last = self._stat_all()

    def _stat_all(self) -> dict[str, tuple[int, int, int, int, int, int]]:
        out = {}
        for root in self.paths:
            for d, dirs, files in os.walk(root):
                for name in (*dirs, *files):
                    p = os.path.join(d, name)
                    try:
                        st = os.lstat(p)
                    except OSError:
                        continue
                    out[p] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ino)
        return out

    def poll(self, timeout: float = 0.0) -> int:
        if timeout:
            threading.Event().wait(timeout)
        now = self._stat_all()
        n = 0
        for p in sorted(now.keys() | self._last.keys()):
            a, b = self._last.get(p), now.get(p)
            if a == b:
                continue
            if a is None:
                kind = "created"
            elif b is None:
                kind = "deleted"
            elif (a[3], a[4], a[5]) != (b[3], b[4], b[5]):
                kind = "modified"
            else:
                kind = "attrib"
            self.on_event(p, kind)
            n += 1
        self._last = now
        return n

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self.poll()

    def close(self) -> None:
        pass


def make_watcher(
    paths: Iterable[str | os.PathLike[str]], on_event: OnEvent, *, polling: bool = False
) -> Watcher | PollingWatcher:
    """inotify when available (and not `polling`), else the polling fallback."""
    path_list = list(paths)
    if not polling:
        try:
            return Watcher(path_list, on_event)
        except (IdsError, OSError, AttributeError):
            pass
    return PollingWatcher(path_list, on_event)


class FileMonitor:
    """Real-time integrity: each watch event re-checks that path against the baseline."""

    def __init__(
        self, baseline: Baseline, on_change: Callable[[Change], None], *, polling: bool = False
    ) -> None:
        self.baseline = baseline
        self.on_change = on_change
        self._reported: dict[str, tuple[str, ...]] = {}
        self.watcher = make_watcher(baseline.roots, self._event, polling=polling)

    def _event(self, path: str, _kind: str) -> None:
        if not path:  # queue overflow: fall back to a full check
            for p in self.baseline.entries:
                self._recheck(p)
            return
        self._recheck(path)

    def _recheck(self, path: str) -> None:
        try:
            st = os.lstat(path)
            new: Entry | None = (
                scan([path]).entries.get(path) if not stat.S_ISDIR(st.st_mode) else _dir_entry(path, st)
            )
        except (OSError, IdsError):
            new = None
        kinds = classify(self.baseline.entries.get(path), new)
        if kinds and self._reported.get(path) != kinds:
            self._reported[path] = kinds
            self.on_change(Change(path, kinds, self.baseline.entries.get(path), new))
        elif not kinds:
            self._reported.pop(path, None)

    def poll(self, timeout: float = 0.5) -> int:
        return self.watcher.poll(timeout)

    def close(self) -> None:
        self.watcher.close()


def _dir_entry(path: str, st: os.stat_result) -> Entry:
    return Entry(
        "d",
        stat.S_IMODE(st.st_mode),
        st.st_uid,
        st.st_gid,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
        st.st_ino,
    )
