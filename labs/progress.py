"""A lab's live status line on a terminal: phase, position on the timeline, the next action, the
actions done so far and the alarms raised — redrawn twice a second under the log lines (`rich`).
When stderr is no terminal, nothing is drawn: the time-stamped log lines say the same in order.

    with live_status(lab):      # labs.run_lab(..., watch=live_status) does this
        lab.run_programme()
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any, Protocol

from labs.timeline import Timeline, format_offset

REFRESH_PER_S = 2


class Watched(Protocol):
    """What the status line reads from a running lab (labs.engine.Lab)."""

    phase: str
    timeline: Timeline
    bus: Any


def status_text(lab: Watched, now: float | None = None) -> str:
    """The status line's text, e.g. 'timeline +12.4s of +35s | next firewall.add at +35s |
    actions 2/3 done | alarms 0'."""
    tl = lab.timeline
    parts = [lab.phase]
    if tl.actions:
        clock = tl.clock() if now is None else now
        at = tl.offset(clock)
        end = format_offset(tl.actions[-1].at)
        parts.append(
            f"timeline {format_offset(round(at, 1))} of {end}" if at is not None else f"timeline of {end}"
        )
        pending = [a for a in tl.actions if a.state == "pending"]
        if pending:
            parts.append(f"next {pending[0].do} at {format_offset(pending[0].at)}")
        running = [a for a in tl.actions if a.state == "running"]
        if running:
            parts.append(f"running {running[0].do}")
        done = sum(1 for a in tl.actions if a.state == "done")
        failed = sum(1 for a in tl.actions if a.state == "failed")
        parts.append(f"actions {done}/{len(tl.actions)} done" + (f", {failed} failed" if failed else ""))
    events = list(getattr(lab.bus, "events", []))
    alarms = sum(1 for e in events if getattr(e, "severity", "") == "alarm")
    parts.append(f"alarms {alarms}")
    return " | ".join(parts)


@contextlib.contextmanager
def live_status(lab: Watched, stream: Any = None) -> Iterator[None]:
    """Draw the status line while the block runs, on a terminal only; log lines printed to stderr
    meanwhile appear above it. Leaves no line behind."""
    out = stream if stream is not None else sys.stderr
    if not getattr(out, "isatty", lambda: False)():
        yield
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    console = Console(file=out)

    def render() -> Text:
        return Text(status_text(lab), style="bold", overflow="ellipsis", no_wrap=True)

    with Live(
        get_renderable=render,
        console=console,
        refresh_per_second=REFRESH_PER_S,
        transient=True,
        redirect_stdout=True,
        redirect_stderr=True,
    ):
        yield
