"""Run directories: runs/<UTC time>-<name>/, self-contained records of one run."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from govnet.errors import GovnetError
from govnet.paths import runs_dir


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
