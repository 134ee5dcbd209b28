"""The one stop policy (terminate, wait, kill), Child and Lifecycle; typed events and their kinds."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from govnet.eventkinds import KINDS
from govnet.events import Event
from govnet.supervise import Child, Lifecycle, stop_all, stop_process

IGNORES_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def test_stop_process_terminates_a_polite_child() -> None:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_process(p, timeout=5) == -15
    assert stop_process(p) == -15  # already reaped: same status, no error


def test_stop_process_kills_a_child_that_ignores_sigterm() -> None:
    p = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"  # the handler is installed
    t0 = time.monotonic()
    assert stop_process(p, timeout=0.3) == -9
    assert time.monotonic() - t0 < 5
    assert stop_process(None) is None


def test_stop_all_shares_one_timeout() -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    t0 = time.monotonic()
    stop_all(procs, timeout=1.5)
    took = time.monotonic() - t0
    assert [p.returncode for p in procs] == [-9, -9, -9]
    # one deadline for the group: 1.5 s and the kills, where one wait per process would be 4.5 s
    assert 1.5 <= took < 3.0, took


def test_child_context_manager_reaps() -> None:
    with Child([sys.executable, "-c", "import time; time.sleep(60)"]) as c:
        assert c.running() and c.pid
    assert not c.running()


class _Half(Lifecycle):
    def __init__(self) -> None:
        self.stopped = 0

    def start(self) -> None:
        raise RuntimeError("half started")

    def stop(self) -> None:
        self.stopped += 1


def test_lifecycle_stops_a_component_whose_start_failed() -> None:
    h = _Half()
    with pytest.raises(RuntimeError, match="half started"), h:
        pass
    assert h.stopped == 1


def test_event_takes_its_kind_default_severity_and_verdict() -> None:
    e = Event("offsite", "offsite.failed", "srv-backup -> offsite1", {"result": "digest differs"})
    assert e.severity == "alarm" and e.fails_lab
    rec = e.record()
    assert rec["event_type"] == "lab" and rec["kind"] == "offsite.failed" and rec["sensor"] == "offsite"
    assert e.line() == "alarm offsite.failed (offsite): srv-backup -> offsite1"


def test_unknown_kind_or_severity_is_refused() -> None:
    with pytest.raises(KeyError, match="register it"):
        Event("x", "no.such.kind", "y")
    with pytest.raises(ValueError, match="severity"):
        Event("x", "part.started", "y", severity="loud")
    assert all(k.severity in ("info", "warning", "alarm") for k in KINDS.values())
