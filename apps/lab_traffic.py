"""A scenario's `traffic` section for the apps lab: checked, then scheduled in simulated or wall time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from apps.approval import Limits
from apps.background import Flow, background_flows
from apps.config import CLIENT_APPS, TrafficConfig, load_config
from apps.traffic import DAY_S, Event, client_events
from govnet.errors import ModelError, Problem


@dataclass(frozen=True)
class TrafficSpec:
    """A scenario's `traffic` section: the configuration and the slice of the day to play."""

    config: TrafficConfig
    start_hour: float = 8.0
    hours: float = 10.0
    limits: Limits = field(default_factory=Limits)  # the approval steps' time limits, in simulated seconds

    @property
    def compress(self) -> float:
        return self.config.day_minutes * 60.0 / DAY_S

    @property
    def wall_s(self) -> float:
        return self.hours * 3600.0 * self.compress


def parse_traffic(data: Any, source: str, where: str = "traffic") -> TrafficSpec:
    """Check a scenario's traffic section; ModelError names every bad field."""
    if not isinstance(data, Mapping):
        raise ModelError(
            [Problem(source, where, "must be a mapping", data, "see labs/scenarios/baseline.yaml")]
        )
    raw = dict(data)
    problems: list[Problem] = []
    window: dict[str, float] = {}
    for key, lo, hi in (("start_hour", 0.0, 24.0), ("hours", 0.0, 24.0)):
        if key in raw:
            v = raw.pop(key)
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not lo <= v <= hi
                or (key == "hours" and v == 0)
            ):
                problems.append(
                    Problem(source, f"{where}.{key}", f"must be a number of hours in ({lo:g}, {hi:g}]", v)
                )
            else:
                window[key] = float(v)
    limits = Limits()
    if "limits_hours" in raw:
        lim = raw.pop("limits_hours")
        kinds = ("accept", "review", "final")
        if not isinstance(lim, Mapping) or set(lim) - set(kinds):
            problems.append(
                Problem(
                    source,
                    f"{where}.limits_hours",
                    "must map accept/review/final to hours",
                    lim,
                    "e.g. {accept: 1, review: 2, final: 1}",
                )
            )
        else:
            bad = [
                k for k, v in lim.items() if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0
            ]
            for k in bad:
                problems.append(
                    Problem(source, f"{where}.limits_hours.{k}", "must be a number of hours > 0", lim[k])
                )
            if not bad:
                limits = Limits(**{k: float(lim.get(k, getattr(limits, k) / 3600.0)) * 3600.0 for k in kinds})
    try:
        cfg = load_config(raw, source)
    except ModelError as exc:
        problems += [replace(p, path=f"{where}.{p.path}") for p in exc.problems]
        cfg = TrafficConfig()
    if problems:
        raise ModelError(problems)
    return TrafficSpec(cfg, window.get("start_hour", 8.0), window.get("hours", 10.0), limits)


def schedule(net: Any, spec: TrafficSpec) -> tuple[list[Event], list[Flow]]:
    """Every client operation and background flow of the slice, in simulated time."""
    start, duration = spec.start_hour * 3600.0, spec.hours * 3600.0
    events = [
        e
        for app in CLIENT_APPS
        if app in spec.config.clients
        for e in client_events(net, spec.config, app, start, duration)
    ]
    events.sort(key=lambda e: (e.t_s, e.user))
    return events, background_flows(net, spec.config, start, duration)


def to_wall(events: list[Event], flows: list[Flow], spec: TrafficSpec) -> tuple[list[Event], list[Flow]]:
    """The same schedule in wall-clock seconds from the start of the run (durations compressed)."""
    c, t0 = spec.compress, spec.start_hour * 3600.0
    ev = [replace(e, t_s=(e.t_s - t0) * c, wall_s=(e.t_s - t0) * c) for e in events]
    fl = [replace(f, start_s=(f.start_s - t0) * c, duration_s=f.duration_s * c) for f in flows]
    return ev, fl
