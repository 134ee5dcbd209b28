"""Run directories: runs/<UTC time>-<name>/, self-contained records of one run; how their names look,
and how a record in one is rewritten atomically (readable by the user who ran `sudo`, unlike the
private files of govnet.secure)."""

from __future__ import annotations

import calendar
import json
import platform
import re
import sys
import time
from pathlib import Path

from govnet.errors import GovnetError
from govnet.paths import runs_dir

# <YYYYmmdd-HHMMSS>-<name>[-<n>]: what create_run_dir makes (the name part is a lab or `topo-<model>`)
RUN_NAME = re.compile(r"^(?P<stamp>\d{8}-\d{6})-(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)$")


def is_run_name(name: str) -> bool:
    """Whether a directory name has the shape create_run_dir gives run directories."""
    return RUN_NAME.match(name) is not None


def run_stamp(name: str) -> float | None:
    """The UTC start time (epoch seconds) in a run directory's name, or None when it has none."""
    m = RUN_NAME.match(name)
    if m is None:
        return None
    try:
        return float(calendar.timegm(time.strptime(m["stamp"], "%Y%m%d-%H%M%S")))
    except (ValueError, OverflowError):
        return None


def create_run_dir(name: str, base: Path | None = None) -> Path:
    """Create a fresh, uniquely named run directory and write its metadata."""
    root = base or runs_dir()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    path = root / f"{stamp}-{name}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{stamp}-{name}-{n}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise GovnetError(
            f"cannot create the run directory {path}: {exc.strerror}; set GOVNET_RUNS to a writable folder"
        ) from None
    from govnet import __version__

    meta = {
        "name": name,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "govnet": __version__,
        "python": sys.version.split()[0],
        "kernel": platform.release(),
    }
    (path / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    return path
