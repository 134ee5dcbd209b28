"""Turn SIGTERM/SIGHUP into KeyboardInterrupt so every `finally:` teardown runs, and remember what
was torn down, so an interrupted command says what it did (an offline command tore nothing down)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType


def _raise(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def interrupts_on_signals() -> Iterator[None]:
    old = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


_TORN_DOWN: list[str] = []


def note_torn_down(what: str) -> None:
    """Record that `what` (an emulation, a daemon) was torn down in this process."""
    if what not in _TORN_DOWN:
        _TORN_DOWN.append(what)


def torn_down() -> list[str]:
    """What this process has torn down so far (empty for offline commands)."""
    return list(_TORN_DOWN)


def interrupted_message() -> str:
    """The one line an interrupted command prints: what was torn down, or that nothing needed to be."""
    done = torn_down()
    if done:
        return f"interrupted; torn down: {', '.join(done)}"
    return "interrupted; nothing was running that needed tearing down (files written so far are kept)"
