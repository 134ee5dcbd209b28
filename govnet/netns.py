"""Sockets inside another network namespace, from a process that stays in its own.

A socket belongs to the namespace it was created in for its whole life, whichever thread uses it
later. `socket_in_netns` creates it on a short-lived thread that `setns()`s into the namespace of
`pid` (a Mininet host's shell), so one process can talk from many emulated hosts at once without a
process (or an `nsenter`) per host. Needs CAP_SYS_ADMIN (root). `pid=None` means this namespace.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from typing import Any

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def socket_in_netns(
    pid: int | None, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM, proto: int = 0
) -> socket.socket:
    """A new socket in the network namespace of process `pid` (OSError if it cannot be entered)."""
    if pid is None:
        return socket.socket(family, kind, proto)
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into the namespace of pid {pid}: {os.strerror(err)}")
            finally:
                os.close(fd)
            box["sock"] = socket.socket(family, kind, proto)
        except OSError as exc:
            box["err"] = exc

    t = threading.Thread(target=run, name=f"netns-{pid}", daemon=True)
    t.start()
    t.join()
    if "err" in box:
        raise box["err"]
    sock: socket.socket = box["sock"]
    return sock
