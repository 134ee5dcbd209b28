"""File integrity, as AIDE does it: a baseline of content hashes and metadata, and a check against it.

Recorded per path (symlinks are not followed): type, permission bits, uid, gid, size, mtime, ctime,
inode, SHA-256 of regular files' content, and the target of symlinks. A check classifies each
difference:

| kind               | when                                                                     |
| ------------------ | ------------------------------------------------------------------------ |
| added / removed    | the path is new / gone                                                   |
| modified           | content hash, size, type or link target differ                           |
| permission-changed | permission bits differ                                                   |
| owner-changed      | uid or gid differ                                                        |
| setuid-added       | a setuid/setgid bit that the baseline did not have (also on added files) |
| replaced           | same content, but a different inode (the file was swapped)               |

mtime alone is not a change (content is checked by hash, and mtime can be forged anyway).
Files of 1 MiB and more are hashed on a thread pool (hashlib releases the GIL), smaller ones
inline. `trust_ctime=True` skips re-hashing files whose size, mtime, ctime and inode are unchanged:
ctime cannot be set from user space, so this is safe against a `touch -d` but not against someone
who changes the clock or writes the raw disk; the default re-hashes everything, as AIDE does.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govnet import events
from govnet.errors import IdsError, ModelError
from govnet.safeload import bounded_repr, load_json_file
from govnet.secure import private_dir, write_private

KINDS = ("added", "removed", "modified", "permission-changed", "owner-changed", "setuid-added", "replaced")
SIDS = {kind: 9100001 + i for i, kind in enumerate(KINDS)}
SEVERITY = {"setuid-added": 1, "modified": 2, "removed": 2, "replaced": 2, "owner-changed": 2}
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Entry:
    """What the baseline records about one path."""

    type: str  # f file, d directory, l symlink, o other
    mode: int  # permission bits incl. setuid/setgid/sticky
    uid: int
    gid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    sha256: str = ""
    target: str = ""

    def to_list(self) -> list[Any]:
        return [
            self.type,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.mtime_ns,
            self.ctime_ns,
            self.inode,
            self.sha256,
            self.target,
        ]

    @classmethod
    def from_list(cls, row: list[Any]) -> Entry:
        """An entry from its saved row; ValueError when the row is not one `to_list` wrote."""
        if not isinstance(row, list) or len(row) not in (8, 9, 10):
            raise ValueError(f"an entry must be a list of 8 to 10 fields (got {bounded_repr(row)})")
        kinds = (str, int, int, int, int, int, int, int, str, str)
        for v, k in zip(row, kinds, strict=False):
            if not isinstance(v, k) or isinstance(v, bool):
                raise ValueError(f"an entry field is {bounded_repr(v)}, expected {k.__name__}")
        return cls(*row)

    def brief(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "mode": f"{self.mode:04o}",
            "uid": self.uid,
            "gid": self.gid,
            "size": self.size,
        }
        if self.sha256:
            out["sha256"] = self.sha256
        if self.target:
            out["target"] = self.target
        return out


@dataclass(frozen=True)
class Change:
    """One path that differs from the baseline, with every kind of difference found."""

    path: str
    kinds: tuple[str, ...]
    old: Entry | None
    new: Entry | None

    def line(self) -> str:
        return f"{', '.join(self.kinds):<34} {self.path}"


@dataclass
class Baseline:
    """Entries by absolute path, the roots they were taken from, and when."""

    roots: list[str]
    entries: dict[str, Entry]
    created: float

    def save(self, db: str | os.PathLike[str]) -> None:
        """Write as JSON, 0600 (atomically: a private temp file beside it renamed over the old baseline;
        on failure the old baseline stays and no temp file is left)."""
        path = Path(db)
        if path.is_dir():
            raise IdsError(f"{db}: is a directory; give a file for the baseline (e.g. {path / 'hids.json'})")
        data = {
            "format": FORMAT_VERSION,
            "created": self.created,
            "roots": self.roots,
            "fields": [
                "type",
                "mode",
                "uid",
                "gid",
                "size",
                "mtime_ns",
                "ctime_ns",
                "inode",
                "sha256",
                "target",
            ],
            "entries": {p: e.to_list() for p, e in self.entries.items()},
        }
        try:
            private_dir(path.parent)
            write_private(path, json.dumps(data, separators=(",", ":")).encode())
        except OSError as exc:
            raise IdsError(
                f"{db}: cannot write the baseline ({exc.strerror}); give a writable path"
            ) from None

    @classmethod
    def load(cls, db: str | os.PathLike[str]) -> Baseline:
        """Read a baseline written by `save`; IdsError (exit 2) naming what is wrong with any other file."""
        if not os.path.exists(db):
            raise IdsError(
                f"{db}: no baseline; create one with 'govnet ids hids baseline --paths DIR --db {db}'"
            )
        try:
            data = load_json_file(db, what="HIDS baseline")  # bounded: size and depth
        except ModelError as exc:
            raise IdsError(str(exc)) from None
        try:
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not the baseline's object")
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {bounded_repr(data.get('format'))}, expected {FORMAT_VERSION}")
            rows = data["entries"]
            if not isinstance(rows, dict) or not isinstance(data["roots"], list):
                raise ValueError("entries must be an object and roots a list")
            entries = {str(p): Entry.from_list(row) for p, row in rows.items()}
            return cls([str(r) for r in data["roots"]], entries, float(data["created"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise IdsError(f"{db}: not a govnet HIDS baseline ({bounded_repr(str(exc), 120)})") from None


def _walk(root: str) -> Iterator[tuple[str, os.stat_result]]:
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return
    yield root, st
    if not stat.S_ISDIR(st.st_mode):
        return
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for de in it:
                try:
                    st = de.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield de.path, st
                if stat.S_ISDIR(st.st_mode):
                    stack.append(de.path)


def _type(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "f"
    if stat.S_ISDIR(mode):
        return "d"
    if stat.S_ISLNK(mode):
        return "l"
    return "o"


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's content ('' if it cannot be read: the metadata still counts)."""
    try:
        with open(path, "rb", buffering=0) as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return ""


def scan(
    roots: Iterable[str | os.PathLike[str]],
    *,
    previous: Baseline | None = None,
    trust_ctime: bool = False,
    workers: int = 2,
    exclude: Callable[[str], bool] | None = None,
) -> Baseline:
    """Walk the roots and record every path (see the module docstring for `trust_ctime`).

    Files of 1 MiB and more are hashed on `workers` threads; smaller ones inline, because for them
    the per-file Python work dominates and threads only contend for the GIL (measured: 20,000 small
    files took 0.62 s inline, 1.3 s on 2-8 threads)."""
    root_list = [os.path.abspath(r) for r in roots]
    for r in root_list:
        if not os.path.lexists(r):
            raise IdsError(f"{r}: no such file or directory to watch")
    entries: dict[str, Entry] = {}
    big: list[tuple[str, os.stat_result]] = []
    old = previous.entries if previous is not None else {}
    s_isreg, s_islnk, s_imode = stat.S_ISREG, stat.S_ISLNK, stat.S_IMODE
    for root in root_list:
        for path, st in _walk(root):
            if exclude is not None and exclude(path):
                continue
            mode = st.st_mode
            digest = target = ""
            if s_isreg(mode):
                kind = "f"
                prev = old.get(path)
                if (
                    trust_ctime
                    and prev is not None
                    and prev.sha256
                    and (prev.size, prev.mtime_ns, prev.ctime_ns, prev.inode)
                    == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                ):
                    digest = prev.sha256
                elif st.st_size >= _BIG and workers > 1:
                    big.append((path, st))
                    continue
                else:
                    digest = sha256_file(path)
            elif s_islnk(mode):
                kind = "l"
                try:
                    target = os.readlink(path)
                except OSError:
                    target = ""
            else:
                kind = _type(mode)
            entries[path] = Entry(
                kind, s_imode(mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                st.st_ino, digest, target,
            )  # fmt: skip
    if big:
        with ThreadPoolExecutor(workers) as pool:
            digests = list(pool.map(sha256_file, [p for p, _ in big]))
        for (path, st), digest in zip(big, digests, strict=True):
            entries[path] = Entry(
                "f", s_imode(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                st.st_ino, digest, "",
            )  # fmt: skip
    return Baseline(root_list, entries, time.time())


_BIG = 1 << 20


def compare(old: Baseline, new: Baseline) -> list[Change]:
    """Differences between two scans, sorted by path."""
    out: list[Change] = []
    a, b = old.entries, new.entries
    for path in sorted(a.keys() | b.keys()):
        o, n = a.get(path), b.get(path)
        kinds = classify(o, n)
        if kinds:
            out.append(Change(path, kinds, o, n))
    return out


def classify(o: Entry | None, n: Entry | None) -> tuple[str, ...]:
    """The kinds of difference between a baseline entry and the current one (() if none)."""
    suid = stat.S_ISUID | stat.S_ISGID
    if o is None and n is None:
        return ()
    if o is None:
        assert n is not None
        return ("added", "setuid-added") if n.type == "f" and n.mode & suid else ("added",)
    if n is None:
        return ("removed",)
    kinds: list[str] = []
    if (
        o.type != n.type
        or o.sha256 != n.sha256
        or o.target != n.target
        or (o.type == "f" and o.size != n.size)
    ):
        kinds.append("modified")
    if o.mode != n.mode:
        kinds.append("permission-changed")
    if (o.uid, o.gid) != (n.uid, n.gid):
        kinds.append("owner-changed")
    if n.type == "f" and n.mode & suid & ~o.mode:
        kinds.append("setuid-added")
    if not kinds and o.inode != n.inode and o.type != "d":
        kinds.append("replaced")
    return tuple(kinds)


def check(
    db: str | os.PathLike[str], *, trust_ctime: bool = False, workers: int = 2
) -> tuple[Baseline, list[Change]]:
    """Scan the baseline's roots again and compare: (the new scan, the changes)."""
    base = Baseline.load(db)
    missing = [r for r in base.roots if not os.path.lexists(r)]
    now = scan(
        [r for r in base.roots if r not in missing], previous=base, trust_ctime=trust_ctime, workers=workers
    )
    now.roots = base.roots
    return now, compare(base, now)


def to_alerts(changes: Iterable[Change], sensor: str, t: float | None = None) -> list[events.Record]:
    """One EVE alert per change (signature per first kind; `hids` carries path, kinds, old, new)."""
    out = []
    for c in changes:
        main = "setuid-added" if "setuid-added" in c.kinds else c.kinds[0]
        detail: dict[str, Any] = {"path": c.path, "changes": list(c.kinds)}
        if c.old is not None:
            detail["old"] = c.old.brief()
        if c.new is not None:
            detail["new"] = c.new.brief()
        out.append(
            events.alert(
                sensor=sensor,
                signature_id=SIDS[main],
                signature=f"GOVNET HIDS file {main}: {c.path}",
                category="HIDS file integrity",
                severity=SEVERITY.get(main, 3),
                t=t,
                extra={"hids": detail},
            )
        )
    return out
