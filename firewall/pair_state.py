"""What the parts of the firewall pair controller share: member state, attributes, events and alarms.

`PairState` is the common base of the controller's parts (`pair_steering`, `pair_health`,
`pair_balance`, `pair_control`) and of `Pair` itself: it declares the attributes `Pair.__init__` and
`Pair.start` set, and writes the controller's events (raising and clearing alarms once each).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firewall.errors import FirewallError
from firewall.plan import PairPlan
from firewall.slots import SlotTable
from govnet.events import EventLog, event

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

Log = Callable[[str], None]


@dataclass
class MemberState:
    name: str
    state: str = "active"  # active | drained | failed | ready (healthy, out of service)
    sessions: int = 0
    invalid: int = 0
    pps: float = 0.0
    bps: float = 0.0
    since: float = field(default_factory=time.time)
    _last: tuple[float, int, int] | None = None  # (t, rx packets, rx bytes)


class PairState:
    """The controller's shared attributes (set by `Pair`) and its event record."""

    emu: EmulatorHandle
    plan: PairPlan
    rundir: Path
    events: EventLog | None
    log: Log
    interval: float
    misses: int
    table: SlotTable
    members: dict[str, MemberState]
    history: list[dict[str, Any]]
    _lock: threading.RLock
    _stop: threading.Event
    _socks: list[socket.socket]
    _alarms: set[str]
    _conf_dir: Path

    if TYPE_CHECKING:  # provided by the other parts and by Pair

        def apply(self) -> None: ...

        def _healthy(self, member: str) -> bool: ...

        def status(self) -> dict[str, Any]: ...

        def drain(self, member: str) -> dict[str, Any]: ...

        def add(self, member: str) -> dict[str, Any]: ...

    # events --------------------------------------------------------------------------------------
    def _known(self, member: str) -> None:
        if member not in self.members:
            raise FirewallError(f"no firewall member named {member!r}; members: {', '.join(self.plan.names)}")

    def _event(self, kind: str, **detail: Any) -> None:
        rec = event(kind, sensor="fw-controller", **detail)
        self.history.append(rec)
        self.log(f"fw: {detail.get('action', kind)} {detail.get('member', '')}".rstrip())
        if self.events is not None:
            self.events.write(rec)

    def _alarm(self, key: str, **detail: Any) -> None:
        if key in self._alarms:
            return
        self._alarms.add(key)
        self._event("fw", action="alarm", alarm=key.split(":")[0], **detail)

    def _clear(self, key: str) -> None:
        if key in self._alarms:
            self._alarms.discard(key)
            self._event("fw", action="alarm_cleared", alarm=key.split(":")[0])
