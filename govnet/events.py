"""The one event/alert record of govnet: JSON lines close to Suricata's EVE format.

Every sensor, the audit, the firewall controller and the lab runner write their events with
`EventLog.write(record)`, where `record` comes from `alert()` or `event()`. Fields follow EVE
(`timestamp`, `flow_id`, `event_type`, `src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`,
`alert{action, signature_id, signature, category, severity}`), so `jq`, Suricata readers and SIEM
importers read our files unchanged. govnet adds `sensor` (who saw it) and, for non-alert events,
a free `detail` object.

An append is one `write()` of one complete line on an O_APPEND descriptor, so concurrent writers
never interleave inside a line; `fsync` makes it durable before `write` returns when asked to.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govnet.errors import UsageError
from govnet.eventkinds import SEVERITIES, kind

EVENT_TYPES = frozenset({"alert", "flow", "login", "fw", "hids", "hsm", "lab", "stats", "block"})
ACTIONS = frozenset({"allowed", "blocked"})

Record = dict[str, Any]


def timestamp(t: float | None = None) -> str:
    """EVE's timestamp: ISO 8601 with microseconds and a numeric UTC offset."""
    if t is None:
        when = _dt.datetime.now(_dt.UTC)
    else:
        try:
            when = _dt.datetime.fromtimestamp(t, _dt.UTC)
        except (ValueError, OverflowError, OSError):  # a capture's absurd time (year 251468, NaN)
            when = (
                _dt.datetime.max.replace(tzinfo=_dt.UTC)
                if t > 0
                else _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
            )
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f+0000")


def record_time(rec: Mapping[str, Any]) -> tuple[float, float]:
    """An EVE record's time as an Event's (wall, mono): so an event that a sensor or controller
    recorded earlier keeps the time it happened (now, when the timestamp is unreadable)."""
    now_wall, now_mono = time.time(), time.monotonic()
    try:
        wall = _dt.datetime.strptime(str(rec["timestamp"]), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except (KeyError, ValueError):
        return now_wall, now_mono
    return wall, now_mono - (now_wall - wall)


def alert(
    *,
    sensor: str,
    signature_id: int,
    signature: str,
    category: str,
    severity: int,
    action: str = "allowed",
    src_ip: str = "",
    src_port: int | None = None,
    dest_ip: str = "",
    dest_port: int | None = None,
    proto: str = "",
    flow_id: int = 0,
    t: float | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    """One EVE `alert` record. `severity` is 1 (highest) to 4; `action` is allowed or blocked."""
    if not 1 <= severity <= 4:
        raise ValueError(f"severity must be 1..4, got {severity!r}")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {sorted(ACTIONS)}, got {action!r}")
    rec: Record = {
        "timestamp": timestamp(t),
        "flow_id": int(flow_id),
        "event_type": "alert",
        "sensor": sensor,
        "src_ip": src_ip,
        "dest_ip": dest_ip,
        "proto": proto,
        "alert": {
            "action": action,
            "gid": 1,
            "signature_id": int(signature_id),
            "rev": 1,
            "signature": signature,
            "category": category,
            "severity": int(severity),
        },
    }
    if src_port is not None:
        rec["src_port"] = int(src_port)
    if dest_port is not None:
        rec["dest_port"] = int(dest_port)
    if extra:
        rec.update(extra)
    return rec


def event(event_type: str, *, sensor: str, t: float | None = None, **detail: Any) -> Record:
    """A non-alert event (failover, block, login, lab step, ...): EVE envelope plus `detail`."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {sorted(EVENT_TYPES)}, got {event_type!r}")
    return {"timestamp": timestamp(t), "event_type": event_type, "sensor": sensor, "detail": detail}


@dataclass(frozen=True)
class Event:
    """One typed event: which part saw what, when (monotonic for ordering and offsets, wall time
    for people), how bad. `kind` is registered in govnet.eventkinds; `severity` defaults to it."""

    source: str
    kind: str
    subject: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    severity: str = ""
    mono: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        k = kind(self.kind)
        if not self.severity:
            object.__setattr__(self, "severity", k.severity)
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def fails_lab(self) -> bool:
        return kind(self.kind).fails_lab

    def record(self) -> Record:
        """The EVE line for events.json (event_type `lab`)."""
        return {
            "timestamp": timestamp(self.wall),
            "event_type": "lab",
            "sensor": self.source,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "detail": dict(self.detail),
        }

    def line(self) -> str:
        """One line for reports and consoles."""
        return f"{self.severity} {self.kind} ({self.source}): {self.subject}"


class EventLog:
    """Append-only JSON-lines file (a run's `events.json`); safe for threads and processes."""

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise UsageError(
                f"{self.path}: is a directory; give a file for the EVE JSON lines (e.g. {self.path}/eve.json)"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # created 0600: events name users, sources and decisions
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise UsageError(
                f"{self.path}: cannot open the event file for appending ({exc.strerror}); "
                "give a writable path"
            ) from None
        self._fsync = fsync
        self._lock = threading.Lock()

    def write(self, record: Mapping[str, Any]) -> None:
        data = (json.dumps(record, separators=(",", ":"), sort_keys=False) + "\n").encode()
        with self._lock:
            os.write(self._fd, data)
            if self._fsync:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def read(path: str | os.PathLike[str]) -> Iterator[Record]:
    """Records of an event log; a torn last line (crash mid-write) is skipped, not fatal."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                yield rec
