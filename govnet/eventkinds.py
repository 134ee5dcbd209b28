"""The registry of event kinds, beside the metric registry (`govnet.metrics`).

Every warning, alarm or notable step a part reports is an `Event` (govnet.events) of a kind named
here. A kind fixes its default severity and whether it fails a lab: a lab is ok only when no event
of a failing kind was emitted and every part's verdict is ok. Adding a kind is one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("info", "warning", "alarm")


@dataclass(frozen=True)
class Kind:
    name: str
    severity: str  # default: info | warning | alarm
    fails_lab: bool
    description: str


_KINDS = [
    Kind("part.started", "info", False, "a part is running on the emulated network"),
    Kind("part.stopped", "info", False, "a part has stopped and released what it held"),
    Kind("part.failed", "alarm", True, "a part could not start, or failed while running"),
    Kind("action.done", "info", False, "a part carried out a named action (timeline, operator)"),
    Kind("action.failed", "alarm", True, "a named action raised an error"),
    Kind("check.failed", "alarm", True, "a network check (reachability, rate, heal) did not pass"),
    Kind("fw.drift", "alarm", False, "the firewall members' rulesets differ"),
    Kind("fw.split_brain", "alarm", True, "both firewall members claim the same steering slot"),
    Kind("fw.failover", "warning", False, "a firewall member left or rejoined service"),
    Kind("fw.alarm", "warning", False, "the firewall pair raised an alarm"),
    Kind("ids.kernel_drops", "warning", False, "a NIDS sensor's socket dropped packets"),
    Kind("ids.alert", "warning", False, "a NIDS sensor alerted (the first of a signature and source in 5 s)"),
    Kind("ids.block", "info", False, "a NIDS alert led to a block on the firewalls (state in the detail)"),
    Kind("attack.done", "info", False, "an attack of the attack kit ran (tool, source, target, outcome)"),
    Kind("hids.alert", "alarm", False, "a HIDS agent saw a guarded file, port or setuid change"),
    Kind("offsite.failed", "alarm", True, "the off-site backup copy did not arrive intact"),
    Kind("validation.out_of_bounds", "alarm", True, "simulator and emulator disagree beyond bounds"),
    Kind("audit.broken", "alarm", True, "the audit ledger's hash chain does not verify"),
    Kind("traffic.errors", "warning", False, "user operations failed during the traffic run"),
    Kind("monitor.gap", "warning", False, "metrics could not be written or were dropped"),
]
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}


def kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown event kind {name!r}; register it in govnet/eventkinds.py") from None
