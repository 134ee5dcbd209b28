"""The plan `apps.replay` plays, read and checked: hosts, servers, users, operations, flows, timing.

`ReplayPlan` is the base of `apps.replay.Replayer`: its constructor reads the plan (see the
`apps.replay` docstring for the format) and refuses an unusable one with `PlanError` naming the field.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PlanError(ValueError):
    """The plan file is unusable (names the field)."""


@dataclass
class Op:
    t: float
    app: str
    user: str
    src: str
    op: str
    up: int
    down: int
    ok: bool
    via: str


def _addr(text: str, where: str) -> tuple[str, int]:
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit():
        raise PlanError(f"{where}: expected HOST:PORT (got {text!r})")
    return host, int(port)


class ReplayPlan:
    """One checked plan and the record of what playing it did."""

    def __init__(self, plan: dict[str, Any], out: Path, log: Callable[[str], None] = print) -> None:
        self.out = out
        self.log = log
        try:
            self.hosts: dict[str, dict[str, Any]] = dict(plan["hosts"])
            self.servers = {k: _addr(v, f"servers.{k}") for k, v in dict(plan.get("servers", {})).items()}
            self.passwords: dict[str, str] = dict(plan.get("passwords", {}))
            self.departments: dict[str, str] = dict(plan.get("departments", {}))
            self.oa_users: dict[str, str] = dict(plan.get("oa_users", {}))
            self.ops = [Op(*e) for e in plan.get("events", [])]
            self.flows = [tuple(f) for f in plan.get("flows", [])]
            self.seed = int(plan.get("seed", 1))
            self.udp_port = int(plan.get("udp_port", 5004))
            self.timeout_s = float(plan.get("timeout_s", 30.0))
            self.t0 = float(plan.get("t0") or time.time() + 1.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanError(f"plan: {type(exc).__name__}: {exc}") from None
        for o in self.ops:
            for h in (o.src, o.via):
                if h and h not in self.hosts:
                    raise PlanError(f"plan.events: host {h!r} is not in plan.hosts")
            if o.app not in self.servers:
                raise PlanError(f"plan.events: no server for application {o.app!r} in plan.servers")
        self.dept_names = sorted(set(self.departments.values()))
        self._records: list[dict[str, Any]] = []
        self._rec_lock = threading.Lock()
        self._stop = threading.Event()
