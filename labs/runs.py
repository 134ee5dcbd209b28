"""Stored runs read back: list the run directories, find one by id, prune old ones. Each is read
from its run record (labs.runrecord writes it) and its results.json.

A record still saying `running` whose process is gone is a run that crashed (or was SIGKILLed).
Directories from before records existed, and `topo up` runs, are read from their `results.json` (or
the old short `run.json`) when they have one, otherwise listed as `unknown`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.errors import UsageError
from govnet.paths import runs_dir
from govnet.rundir import is_run_name, run_stamp
from labs.runrecord import RECORD, find_seed, iso, pid_alive

RESULTS = "results.json"
KEEP_FIX = "--keep {keep}: keep at least 1 run (to remove every run, delete the folder yourself)"
VERDICTS = ("running", "passed", "failed", "interrupted")  # what a record says; + crashed, unknown when read


# reading runs back --------------------------------------------------------------------------------
def _load_json(path: Path) -> dict[str, Any] | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def dir_size(path: Path) -> int:
    """Bytes `path` takes on disk, like du: allocated blocks, hard links counted once, no symlinks
    followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += getattr(st, "st_blocks", 0) * 512 or st.st_size
            if e.is_dir(follow_symlinks=False):
                stack.append(Path(e.path))
    return total


def num(v: object) -> float | None:
    """`v` as a float when it is a number (not a boolean), else None."""
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass
class RunInfo:
    """One run directory as read back: its record (or what could be recovered) and its results."""

    id: str
    path: Path
    record: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] | None = None
    source: str = "none"  # record | old-record | results | none
    size: int = 0

    # what a user sees --------------------------------------------------------------------------------
    @property
    def scenario(self) -> str:
        s = self.record.get("scenario") or self.record.get("name")
        if not s and self.results:
            sc = self.results.get("scenario")
            s = sc.get("name") if isinstance(sc, dict) else sc
        if not s:
            m = re.match(r"^\d{8}-\d{6}-(.+)$", self.id)
            s = m.group(1) if m else ""
        return str(s or "-")

    @property
    def model(self) -> str:
        m = self.record.get("model") or (self.results or {}).get("model")
        return str(m) if m else "-"

    @property
    def seed(self) -> int | None:
        s = self.record.get("seed")
        if isinstance(s, int) and not isinstance(s, bool):
            return s
        return find_seed((self.results or {}).get("scenario")) if self.results else None

    @property
    def start_epoch(self) -> float | None:
        s = num(self.record.get("start_epoch"))
        if s is None and isinstance(self.record.get("started"), str):  # the old short record
            try:
                import calendar

                s = float(calendar.timegm(time.strptime(self.record["started"], "%Y-%m-%dT%H:%M:%SZ")))
            except ValueError:
                s = None
        return s if s is not None else run_stamp(self.id)

    @property
    def duration_s(self) -> float | None:
        d = num(self.record.get("duration_s"))
        if d is None and self.results:
            d = num(self.results.get("total_s"))
        return d

    @property
    def verdict(self) -> str:
        """passed, failed, interrupted, running, crashed (a record left `running` by a process that is
        gone) or unknown."""
        v = self.record.get("verdict") if self.source == "record" else None
        if v == "running":
            same_host = self.record.get("host") in (None, socket.gethostname())
            if not same_host or pid_alive(self.record.get("pid"), self.record.get("pid_start")):
                return "running"
            return "crashed"
        if v in VERDICTS:
            return str(v)
        if self.results and isinstance(self.results.get("ok"), bool):
            return "passed" if self.results["ok"] else "failed"
        return "unknown"

    @property
    def exit_code(self) -> int | None:
        e = self.record.get("exit_code")
        return e if isinstance(e, int) and not isinstance(e, bool) else None

    @property
    def commit(self) -> str:
        c = self.record.get("commit")
        if not isinstance(c, str) or not c:
            return "-"
        return f"{c}-dirty" if self.record.get("dirty") is True and c != "-" else c

    @property
    def host(self) -> str:
        return str(self.record.get("host") or "-")

    @property
    def live(self) -> bool:
        return self.verdict == "running"

    def to_json(self) -> dict[str, Any]:
        start = self.start_epoch
        return {
            "id": self.id,
            "path": str(self.path),
            "scenario": self.scenario,
            "model": self.model if self.model != "-" else None,
            "seed": self.seed,
            "start": iso(start) if start is not None else None,
            "start_epoch": start,
            "end": self.record.get("end"),
            "duration_s": self.duration_s,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "commit": self.record.get("commit") if self.commit != "-" else None,
            "dirty": self.record.get("dirty") if self.commit != "-" else None,
            "host": self.record.get("host"),
            "size_bytes": self.size,
            "source": self.source,
        }


def read_run(path: Path, size: bool = True) -> RunInfo:
    """What can be read of the run directory `path` (never raises on a damaged one)."""
    info = RunInfo(path.name, path)
    rec = _load_json(path / RECORD)
    if rec is not None:
        info.record = rec
        info.source = "record" if isinstance(rec.get("schema_version"), int) else "old-record"
    info.results = _load_json(path / RESULTS)
    if info.source == "none" and info.results is not None:
        info.source = "results"
    if size:
        info.size = dir_size(path)
    return info


def looks_like_run(path: Path) -> bool:
    """A directory govnet made: a run directory's name, not a symlink, with run.json or results.json."""
    if path.is_symlink() or not path.is_dir() or not is_run_name(path.name):
        return False
    return any((path / f).is_file() and not (path / f).is_symlink() for f in (RECORD, RESULTS))


def _order(info: RunInfo) -> tuple[float, float, str]:
    return (run_stamp(info.id) or 0.0, info.start_epoch or 0.0, info.id)


def list_runs(base: Path | None = None, size: bool = True) -> list[RunInfo]:
    """Every run directory under `base` (default: the runs folder), newest first. Directories whose
    names are not run names are not runs and are left out."""
    root = base or runs_dir()
    try:
        entries = [p for p in root.iterdir() if is_run_name(p.name) and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    return sorted((read_run(p, size) for p in entries), key=_order, reverse=True)


def _fix_ids(base: Path) -> str:
    return f"'govnet lab runs' lists the runs in {base}"


def find_run(ref: str, runs: list[RunInfo], base: Path | None = None) -> RunInfo | None:
    """The run `ref` names: `latest`, an id, a unique prefix of one, or a run directory's path; None when
    nothing matches. An ambiguous prefix is a UsageError naming the candidates."""
    root = base or runs_dir()
    if ref == "latest":
        if not runs:
            raise UsageError(f"no runs in {root}; run a lab first (sudo govnet lab run smoke)")
        return runs[0]
    for r in runs:
        if r.id == ref:
            return r
    p = Path(ref)
    if ("/" in ref or ref in (".", "..")) and p.is_dir():
        if (p / RECORD).is_file() or (p / RESULTS).is_file():
            return read_run(p)
        raise UsageError(f"{ref}: not a run directory (no run.json or results.json); {_fix_ids(root)}")
    hits = [r for r in runs if r.id.startswith(ref)] if ref else []
    if len(hits) > 1:
        shown = ", ".join(r.id for r in hits[:4]) + (f" and {len(hits) - 4} more" if len(hits) > 4 else "")
        raise UsageError(
            f"run id '{ref}' is ambiguous: {len(hits)} runs start with it ({shown}); give more of the id"
        )
    return hits[0] if hits else None


def get_run(ref: str, base: Path | None = None) -> RunInfo:
    """find_run() over the runs folder, with a UsageError when nothing matches."""
    root = base or runs_dir()
    info = find_run(ref, list_runs(root, size=False), root)
    if info is None:
        raise UsageError(f"no run '{ref}' in {root}; {_fix_ids(root)} (an id, a unique prefix or 'latest')")
    info.size = dir_size(info.path)
    return info


# pruning ------------------------------------------------------------------------------------------
@dataclass
class Pruned:
    """What `prune` removed (or would remove), what it kept because it still runs, and what failed."""

    removed: list[RunInfo] = field(default_factory=list)
    running: list[RunInfo] = field(default_factory=list)
    kept: list[RunInfo] = field(default_factory=list)
    failed: list[tuple[RunInfo, str]] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removed)


def prune(keep: int, dry_run: bool = False, base: Path | None = None) -> Pruned:
    """Remove all but the newest `keep` govnet runs under `base` (default: the runs folder). Only
    directories that look like runs (looks_like_run) are candidates; a run whose process still runs
    is never removed."""
    if keep < 1:
        raise UsageError(
            f"--keep {keep}: keep at least 1 run (to remove every run, delete the folder yourself)"
        )
    root = base or runs_dir()
    runs = [r for r in list_runs(root) if looks_like_run(r.path)]
    out = Pruned(kept=runs[:keep])
    for r in runs[keep:]:
        if r.live:
            out.running.append(r)
            continue
        if not dry_run:
            try:
                shutil.rmtree(r.path)
            except OSError as exc:
                out.failed.append((r, exc.strerror or str(exc)))
                continue
        out.removed.append(r)
    return out
