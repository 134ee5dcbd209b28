"""The one supervisor of govnet's child processes and long-lived components.

- `stop_process(proc)`: the single stop policy — SIGTERM, wait `STOP_TIMEOUT_S`, SIGKILL, reap. Safe
  on a process that already exited, and on Mininet's `node.popen` children alike.
- `Child`: a child started with `die_with_parent` (the kernel sends it SIGTERM if govnet is killed
  with SIGKILL), stopped with `stop_process`; a context manager.
- `kill_pids(pids)` / `running(pid)`: the same policy for processes that are no child of ours (found
  by namespace or pid file): SIGTERM, grace, SIGKILL, then wait (bounded) until they are gone.
- `Lifecycle`: the `start`/`stop`/`with` boilerplate of components. `with X(...) as x:` starts, and
  stops on the way out whatever happened; a `start` that raises is followed by `stop` (which must
  therefore be idempotent and cope with a half-started component), so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, Self

from govnet.children import die_with_parent

STOP_TIMEOUT_S = 5.0


class _Proc(Protocol):
    def poll(self) -> int | None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...
    def wait(self, timeout: float | None = None) -> int: ...


def stop_process(proc: _Proc | None, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Terminate, wait up to `timeout`, kill, reap; the exit status (None when there was no process)."""
    if proc is None:
        return None
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return proc.wait()


def stop_all(procs: Sequence[_Proc | None], timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop several processes at once: all get SIGTERM first, then each is waited for (one timeout
    for the whole group, not one per process), then the stragglers are killed."""
    live = [p for p in procs if p is not None and p.poll() is None]
    for p in live:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in live:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait()


def running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def kill_pids(pids: Sequence[int], grace_s: float = 1.0, gone_s: float = 5.0) -> int:
    """SIGTERM, wait up to grace_s, then SIGKILL what is left, then wait up to gone_s until none
    runs (SIGKILL is asynchronous: what the caller does next — a new emulation, a check that nothing
    is left — must not meet processes still exiting). Returns how many were signalled."""
    sent = 0
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
            sent += 1
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        if running(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + gone_s
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.02)
    return sent


class Child:
    """One supervised child process of the root namespace."""

    def __init__(self, argv: Sequence[str], *, timeout: float = STOP_TIMEOUT_S, **popen: Any) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self._popen = popen
        self.proc: subprocess.Popen[Any] | None = None

    def start(self) -> Self:
        if self.proc is None:
            self.proc = subprocess.Popen(self.argv, preexec_fn=die_with_parent, **self._popen)
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        return stop_process(self.proc, self.timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class Lifecycle:
    """Base for components with `start()` and an idempotent `stop()`; gives them `with`."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
