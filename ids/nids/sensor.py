"""The live NIDS sensor: capture -> engine -> event log (+ metrics, + block requests).

In a process (the lab runner, inside an emulated host's namespace):

    sensor = Sensor("fw-a-eth0", engine, events=EventLog(run / "events.json"), name="nids-fw-a")
    sensor.run(stop=threading.Event())          # until stop is set; returns the engine's Stats

As a command in an emulated host (`python -m ids.nids.sensor --help`):

    python -m ids.nids.sensor --iface fw-a-eth0 --name nids-fw-a --events runs/X/events.json \
        --rules ids/nids/rules/govnet.rules --never-block 10.99.0.0/24 \
        --block-exec 'python -m firewall.block --src {src} --seconds {seconds}'

Every `--stats-interval` seconds it writes an EVE `stats` event with frames, alerts, the kernel's
drop counter (a sensor that falls behind says so) and the pcre searches stopped by a match limit
(`pcre_limit_hits`, `pcre_limit_by_sid`: rules an attacker may be pushing past their bound), and
`ids` points when `--tsdb URL` is given.
SIGHUP reloads the rule files atomically (a bad file keeps the old rules and is reported);
SIGTERM/SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from govnet import events
from govnet.errors import GovnetError, RuleError
from govnet.metrics import Point
from ids.nids.capture import BOTH_DIRECTIONS_FILTER, DEFAULT_FILTER, Capture
from ids.nids.detectors import DetectorConfig
from ids.nids.engine import BlockRequest, Engine, Stats
from ids.nids.pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT, Limits, parse_limit
from ids.nids.rules import default_rules_path, load_rules


class Sensor:
    """Reads frames from a Capture into an Engine; reports stats/drops; reloads rules on request."""

    def __init__(
        self,
        capture: Capture,
        engine: Engine,
        *,
        events_log: events.EventLog | None = None,
        metrics: Callable[[list[Point]], None] | None = None,
        stats_interval: float = 10.0,
        rule_files: Sequence[str | Path] = (),
    ) -> None:
        self.capture = capture
        self.engine = engine
        self.events_log = events_log
        self.metrics = metrics
        self.stats_interval = stats_interval
        self.rule_files = [Path(p) for p in rule_files]
        self.reload_requested = threading.Event()
        self.errors = 0
        self.last_error = ""
        if events_log is not None:
            prev = engine.on_alert
            engine.on_alert = _chain(prev, events_log.write)

    def reload(self) -> bool:
        """Reload the rule files; on a bad file keep the running rules and record why (False)."""
        try:
            rules = load_rules(self.rule_files, self.engine.rules.variables)
        except RuleError as exc:
            self._event(rules_reload="failed", error=str(exc), rules=len(self.engine.rules))
            return False
        self.engine.reload(rules)
        self._event(rules_reload="ok", rules=len(rules))
        return True

    def report(self) -> events.Record:
        """Write (and return) one `stats` event with engine and kernel counters; push metrics."""
        packets, drops = self.capture.statistics()
        rec = self.engine.stats_event(
            iface=self.capture.iface,
            kernel_packets=packets,
            kernel_drops=drops,
            sink_errors=self.errors,
            last_error=self.last_error,
        )
        if self.events_log is not None:
            self.events_log.write(rec)
        if self.metrics is not None:
            self.metrics(self.engine.points())
        return rec

    def run(self, stop: threading.Event | None = None, duration: float | None = None) -> Stats:
        """Inspect until `stop` is set or `duration` seconds pass; always ends with a stats report."""
        stop = stop or threading.Event()
        feed = self.engine.feed
        frames = self.capture.frames
        t_end = None if duration is None else time.monotonic() + duration
        next_report = time.monotonic() + self.stats_interval
        try:
            while not stop.is_set():
                for ts, frame in frames(0.2):
                    try:
                        feed(ts, frame)
                    except Exception as exc:  # a failing sink (disk full, hook bug) must not stop capture
                        self.errors += 1
                        self.last_error = f"{type(exc).__name__}: {exc}"
                now = time.monotonic()
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if now >= next_report:
                    self.report()
                    next_report = now + self.stats_interval
                if t_end is not None and now >= t_end:
                    break
        finally:
            self.report()
        return self.engine.stats

    def _event(self, **detail: Any) -> None:
        if self.events_log is not None:
            self.events_log.write(events.event("stats", sensor=self.engine.sensor, **detail))


def _chain(
    first: Callable[[events.Record], None] | None, second: Callable[[events.Record], None]
) -> Callable[[events.Record], None]:
    if first is None:
        return second

    def both(rec: events.Record) -> None:
        first(rec)
        second(rec)

    return both


def exec_block_hook(template: str, log: events.EventLog | None) -> Callable[[BlockRequest], None]:
    """A block sink: records a `block` event (state requested) and runs `template` if given, with
    {src} {seconds} {sid} {sensor} filled in. A command that cannot start is recorded (state
    hook_failed), never raised: a broken hook must not stop the sensor."""
    argv_template = shlex.split(template)

    def hook(req: BlockRequest) -> None:
        detail = req.to_dict()
        sensor = detail.pop("sensor")
        if log is not None:
            log.write(events.event("block", sensor=sensor, state="requested", **detail))
        if not argv_template:
            return
        argv = [
            a.format(src=req.src_ip, seconds=req.seconds, sid=req.signature_id, sensor=sensor)
            for a in argv_template
        ]
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        except (OSError, ValueError) as exc:
            if log is not None:
                log.write(events.event("block", sensor=sensor, state="hook_failed", error=str(exc), **detail))

    return hook


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ids.nids.sensor",
        description="Live NIDS sensor on one interface (root): alerts as EVE JSON lines.",
        epilog="example: python -m ids.nids.sensor --iface lo --events /tmp/ev.json --duration 10",
    )
    p.add_argument("--iface", required=True, help="interface to capture on")
    p.add_argument("--name", default="", help="sensor name in events and metrics (default nids-IFACE)")
    p.add_argument("--rules", action="append", default=[], help="rule file (repeatable; default: shipped)")
    p.add_argument("--events", help="EVE JSON-lines file to append alerts and stats to (default stdout)")
    p.add_argument("--never-block", action="append", default=[], metavar="CIDR", help="never ask to block")
    p.add_argument("--block-exec", default="", help="command run per block request: {src} {seconds} {sid}")
    p.add_argument("--tsdb", default="", help="metrics store URL for `ids` points")
    p.add_argument("--stats-interval", type=float, default=10.0, help="seconds between stats events")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument(
        "--both-directions",
        action="store_true",
        help="also inspect frames leaving the interface (a tap on a router's, firewall's or bridge's "
        "port); default: only frames arriving, as on a host",
    )
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="detector setting")
    p.add_argument(
        "--pcre-match-limit",
        metavar="N",
        help="backtracking steps per start position of a pcre that RE2 cannot run "
        f"(default {DEFAULT_MATCH_LIMIT})",
    )
    p.add_argument(
        "--pcre-depth-limit", metavar="N", help=f"its backtracking depth (default {DEFAULT_DEPTH_LIMIT})"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    name = a.name or f"nids-{a.iface}"
    rule_files = [Path(r) for r in a.rules] or [default_rules_path()]
    try:
        rules = load_rules(rule_files)
        cfg = DetectorConfig()
        for item in a.set:
            k, eq, v = item.partition("=")
            if not eq:
                raise ValueError(f"--set {item!r}: expected NAME=VALUE, e.g. portscan_ports=50")
            cfg.set(k, v)
        limits = Limits(
            DEFAULT_MATCH_LIMIT
            if a.pcre_match_limit is None
            else parse_limit(a.pcre_match_limit, "--pcre-match-limit"),
            DEFAULT_DEPTH_LIMIT
            if a.pcre_depth_limit is None
            else parse_limit(a.pcre_depth_limit, "--pcre-depth-limit"),
        )
        log = events.EventLog(a.events) if a.events else None
        sink = log.write if log is not None else (lambda r: print(json.dumps(r), flush=True))
        engine = Engine(rules, cfg, sensor=name, never_block=a.never_block, pcre_limits=limits)
        engine.on_block = exec_block_hook(a.block_exec, log)
        metrics = None
        if a.tsdb:
            from govnet.tsdb_writer import Writer

            metrics = Writer(a.tsdb).write
        capture = Capture(a.iface, bpf=BOTH_DIRECTIONS_FILTER if a.both_directions else DEFAULT_FILTER)
    except (GovnetError, ValueError) as exc:
        print(f"govnet: {exc}", file=sys.stderr)
        return 2
    sensor = Sensor(
        capture,
        engine,
        events_log=log,
        metrics=metrics,
        stats_interval=a.stats_interval,
        rule_files=rule_files,
    )
    if log is None:
        engine.on_alert = sink
    stop = threading.Event()

    def _stop(_s: int, _f: FrameType | None) -> None:
        stop.set()

    def _hup(_s: int, _f: FrameType | None) -> None:
        sensor.reload_requested.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _hup)
    try:
        sensor.run(stop, a.duration)
    finally:
        capture.close()
        if log is not None:
            log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
