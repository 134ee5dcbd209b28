"""The HIDS agent of one server: real-time file integrity, auth-log tail and port/setuid checks together.

In a process (the lab runner, inside an emulated server's namespace):

    agent = HidsAgent(Baseline.load(db), sensor="hids-approval", events_log=EventLog(path),
                      auth_logs=["/srv/lab/approval/auth.log"], on_log_line=auditor_callback)
    agent.run(stop)                       # until stop is set

As a command: `python -m ids.hids.agent --db FILE --events FILE [--auth-log FILE] [--setuid-root DIR]`
(take the baseline first with `govnet ids hids baseline`). Every change is one EVE alert (see
integrity.to_alerts); every matched auth-log line goes to `on_log_line` (the login audit parses it),
and with no callback it is written as an EVE `hids` event; new listeners and setuid files are
checked every `host_interval` seconds.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from govnet import events
from govnet.errors import GovnetError
from ids.hids.integrity import Baseline, Change, to_alerts
from ids.hids.logwatch import LogTail
from ids.hids.procs import HostWatch
from ids.hids.watch import FileMonitor

AUTH_PATTERN = r"Failed password|Invalid user|authentication failure|Accepted (password|publickey)"


class HidsAgent:
    """File monitor + log tails + host checks in one loop; alerts to the event log."""

    def __init__(
        self,
        baseline: Baseline,
        *,
        sensor: str = "hids",
        events_log: events.EventLog | None = None,
        on_alert: Callable[[events.Record], None] | None = None,
        auth_logs: Sequence[str | Path] = (),
        on_log_line: Callable[[str, str], None] | None = None,
        log_pattern: str | None = AUTH_PATTERN,
        setuid_roots: Sequence[str | Path] = (),
        host_interval: float = 5.0,
        polling: bool = False,
        expected_ports: Sequence[str] = (),
    ) -> None:
        self.sensor = sensor
        self.events_log = events_log
        self.on_alert = on_alert
        self.on_log_line = on_log_line
        self.host_interval = host_interval
        self.alerts = 0
        self.monitor = FileMonitor(baseline, self._change, polling=polling)
        self.tails = [LogTail(p, self._line_of(str(p)), pattern=log_pattern) for p in auth_logs]
        self.host = HostWatch(setuid_roots or baseline.roots, sensor=sensor, expected_ports=expected_ports)

    def _emit(self, rec: events.Record) -> None:
        self.alerts += rec.get("event_type") == "alert"
        if self.events_log is not None:
            self.events_log.write(rec)
        if self.on_alert is not None:
            self.on_alert(rec)

    def _change(self, change: Change) -> None:
        for rec in to_alerts([change], self.sensor):
            self._emit(rec)

    def _line_of(self, path: str) -> Callable[[str], None]:
        return lambda line: self._line(path, line)

    def _line(self, path: str, line: str) -> None:
        if self.on_log_line is not None:
            self.on_log_line(path, line)
        else:
            self._emit(events.event("hids", sensor=self.sensor, log=path, line=line))

    def step(self, timeout: float = 0.2) -> None:
        """One round: file events (waiting up to timeout), then new log lines."""
        self.monitor.poll(timeout)
        for t in self.tails:
            t.poll()

    def check_host(self) -> None:
        for rec in self.host.check():
            self._emit(rec)

    def run(self, stop: threading.Event) -> None:
        next_host = 0.0
        clock = 0.0
        while not stop.is_set():
            self.step(0.2)
            clock += 0.2
            if clock >= next_host:
                self.check_host()
                next_host = clock + self.host_interval

    def close(self) -> None:
        self.monitor.close()
        for t in self.tails:
            t.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ids.hids.agent",
        description="HIDS agent: real-time integrity of a baseline's paths, auth-log tail, port and "
        "setuid checks.",
        epilog="example: govnet ids hids baseline --paths /srv/app --db /tmp/b.json && "
        "python -m ids.hids.agent --db /tmp/b.json --events /tmp/ev.json --auth-log /var/log/auth.log",
    )
    p.add_argument("--db", required=True, help="baseline written by 'govnet ids hids baseline'")
    p.add_argument("--events", required=True, help="EVE JSON-lines file to append alerts to")
    p.add_argument("--name", default="hids", help="sensor name")
    p.add_argument("--auth-log", action="append", default=[], help="log to follow (repeatable)")
    p.add_argument("--setuid-root", action="append", default=[], help="where to look for new setuid files")
    p.add_argument("--polling", action="store_true", help="poll instead of inotify")
    p.add_argument(
        "--expect-port",
        action="append",
        default=[],
        metavar="PROTO/PORT",
        help="a declared service port that is never a 'new listening port' alert (repeatable), e.g. udp/5004",
    )
    a = p.parse_args(argv)
    try:
        agent = HidsAgent(
            Baseline.load(a.db),
            sensor=a.name,
            events_log=events.EventLog(a.events),
            auth_logs=a.auth_log,
            setuid_roots=a.setuid_root,
            polling=a.polling,
            expected_ports=a.expect_port,
        )
    except ValueError as exc:
        p.error(f"--expect-port: {exc}")
    except GovnetError as exc:
        print(f"govnet: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _stop(_s: int, _f: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        agent.run(stop)
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
