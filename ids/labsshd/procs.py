"""Processes by mount namespace: how a lab sshd finds exactly what it started."""

from __future__ import annotations

import os


def mnt_ns(pid: int | str = "self") -> str:
    """The mount namespace of a process, e.g. `mnt:[4026532597]` ("" when it is gone)."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return ""


def processes_in(ns: str, exclude: int | None = None) -> list[int]:
    """Pids of the processes whose mount namespace is `ns`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != exclude and mnt_ns(entry) == ns:
            out.append(int(entry))
    return out
