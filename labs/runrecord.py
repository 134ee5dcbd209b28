"""The run record (`run.json`) every lab run writes at its start and rewrites at its end: what ran
(scenario, model, seed), from which commit, on which host, kernel and tools, by which process, and
how it ended (verdict, exit code, duration).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import platform
import re
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from govnet.paths import project_root
from govnet.secure import write_atomic

RECORD_VERSION = 1
RECORD = "run.json"


# the facts of a run -------------------------------------------------------------------------------
def _run(cmd: list[str], timeout: float = 3.0) -> str | None:
    """stdout of a quick command, or None when it is missing, fails or hangs."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit(root: Path | None = None) -> tuple[str, bool | None]:
    """(short commit hash, dirty) of the checkout at `root`; ("-", None) when it is not a git checkout
    (or git is missing). Dirty means tracked files differ from the commit. Never raises."""
    top = str(root or project_root())
    base = ["git", "-c", f"safe.directory={top}", "-C", top]  # `sudo` runs read the user's checkout
    head = _run([*base, "rev-parse", "--short", "HEAD"])
    if not head or not head.strip():
        return "-", None
    status = _run([*base, "status", "--porcelain", "--untracked-files=no"])
    return head.strip(), (bool(status.strip()) if status is not None else None)


_VERSION = re.compile(r"\d+(?:\.\d+)+")


@functools.lru_cache(maxsize=1)
def tool_versions() -> dict[str, str]:
    """Versions of the tools a lab drives, where asking is cheap (once per process); missing tools
    are left out."""
    out: dict[str, str] = {}
    try:
        from importlib.metadata import PackageNotFoundError, version

        with contextlib.suppress(PackageNotFoundError):
            out["mininet"] = version("mininet")
    except ImportError:  # pragma: no cover - stdlib
        pass
    for tool, cmd in (("nft", ["nft", "--version"]), ("frr", ["/usr/lib/frr/zebra", "--version"])):
        text = _run(cmd, timeout=2.0)
        m = _VERSION.search(text or "")
        if m:
            out[tool] = m.group(0)
    return out


def process_start(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks after boot, from /proc), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22; the name in () may hold spaces
    except (IndexError, ValueError):
        return None


def pid_alive(pid: object, start: object) -> bool:
    """Whether the process that wrote a record still runs (same pid and, when known, same start time)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        if Path("/proc/self/stat").exists():
            return False
        try:  # no /proc: the pid alone
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    return not isinstance(start, int) or start == now


def find_seed(scenario: object) -> int | None:
    """The scenario's seed: a top-level `seed`, else the first `seed` inside one of its sections."""
    queue: list[tuple[object, int]] = [(scenario, 0)]
    while queue:
        node, depth = queue.pop(0)
        if dataclasses.is_dataclass(node) and not isinstance(node, type):
            node = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
        if not isinstance(node, Mapping):
            continue
        seed = node.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            return seed
        if depth < 3:
            queue += [(v, depth + 1) for v in node.values()]
    return None


def iso(epoch: float) -> str:
    """`epoch` as an ISO 8601 UTC time (2026-12-03T13:02:16Z)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def new_record(run: Path, scenario: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The record of a run starting now in `run` (verdict `running`)."""
    from govnet import __version__

    commit, dirty = git_commit()
    now = time.time()
    pid = os.getpid()
    return {
        "schema_version": RECORD_VERSION,
        "id": run.name,
        "scenario": str(scenario.get("name", "")),
        "model": model,
        "seed": find_seed(scenario),
        "start": iso(now),
        "start_epoch": round(now, 3),
        "end": None,
        "end_epoch": None,
        "duration_s": None,
        "verdict": "running",
        "exit_code": None,
        "pid": pid,
        "pid_start": process_start(pid),
        "commit": commit,
        "dirty": dirty,
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "govnet": __version__,
        "tools": tool_versions(),
    }


def write_record(run: Path, record: Mapping[str, Any]) -> Path:
    """Write `run/run.json` atomically (a reader never sees half a record)."""
    return write_atomic(run / RECORD, (json.dumps(record, indent=1) + "\n").encode())


_CURRENT: list[tuple[Path, dict[str, Any]]] = []  # this process's unfinished run, for end_current()


def begin_run(run: Path, scenario: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Write the record of a run starting now (verdict `running`); returns it for end_run()."""
    record = new_record(run, scenario, model)
    write_record(run, record)
    _CURRENT[:] = [(run, record)]
    return record


def end_run(run: Path, record: dict[str, Any], verdict: str, exit_code: int) -> dict[str, Any]:
    """Rewrite the record with its end, duration, verdict (passed, failed, interrupted) and exit code."""
    now = time.time()
    start = record.get("start_epoch")
    record.update(
        end=iso(now),
        end_epoch=round(now, 3),
        duration_s=round(now - start, 3) if isinstance(start, (int, float)) else None,
        verdict=verdict,
        exit_code=exit_code,
    )
    write_record(run, record)
    _CURRENT[:] = [c for c in _CURRENT if c[0] != run]
    return record


def end_current(verdict: str, exit_code: int) -> None:
    """End this process's unfinished run, if there is one (the CLI calls it when a run is interrupted
    or fails with an exception: run_lab did not get to end_run). Never raises."""
    for run, record in list(_CURRENT):
        try:
            end_run(run, record, verdict, exit_code)
        except OSError:
            _CURRENT.clear()
