"""OA and online-approval services and their client and background traffic models (issue 4)."""

from apps.background import Flow, background_flows
from apps.clock import Clock, ManualClock, SystemClock
from apps.config import TrafficConfig, load_config
from apps.offered import export_offered, offered_timeline
from apps.traffic import DiurnalCurve, Event, client_events

__all__ = [
    "Clock",
    "DiurnalCurve",
    "Event",
    "Flow",
    "ManualClock",
    "SystemClock",
    "TrafficConfig",
    "background_flows",
    "client_events",
    "export_offered",
    "load_config",
    "offered_timeline",
]
