"""Traffic configuration: plain dicts (JSON/YAML) checked at load, every mistake naming its field.

    {"seed": 7, "day_minutes": 1440,
     "clients": {"oa": {"users_per_desktop": 20, "sessions_per_user_hour": 1.5, ...},
                 "approval": {...}},
     "background": {"voice": {"calls_per_hour": 40, "holding_s": 210}, "vod": {...},
                    "conference": {...}}}

Unknown keys, unknown classes and negative rates raise ModelError with one Problem per mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from govnet.errors import ModelError, Problem


@dataclass(frozen=True)
class ClientParams:
    """One application's users and their behaviour. The defaults are cited in apps/traffic.py."""

    users_per_desktop: int = 20  # a model desktop stands for an office group
    sessions_per_user_hour: float = 1.5  # at the diurnal peak
    ops_per_session: float = 8.0  # mean of a geometric distribution
    think_mean_s: float = 7.0  # TPC-W: negative exponential, mean 7 s ...
    think_max_s: float = 70.0  # ... truncated at 70 s
    mistype_rate: float = 0.04  # share of password entries that are wrong
    size_mu: float = 10.4  # ln bytes: median e^10.4 ~ 33 kB
    size_sigma: float = 1.6
    size_min: int = 512
    size_max: int = 20_000_000


@dataclass(frozen=True)
class VoiceParams:
    """IP telephony: Poisson calls at the diurnal peak rate, exponential holding times."""

    calls_per_hour: float = 40.0
    holding_s: float = 210.0


@dataclass(frozen=True)
class VodParams:
    """Video on demand: Poisson sessions, one stream from the server to a desktop."""

    sessions_per_hour: float = 6.0
    mean_duration_s: float = 600.0
    rate_bps: float = 768_000.0


@dataclass(frozen=True)
class ConferenceParams:
    """H.323 conferences: meetings per day, each joining `sites` bureaus at `rate_bps` (+ overhead)."""

    meetings_per_day: float = 6.0
    duration_s: float = 3600.0
    sites: int = 3
    rate_bps: float = 768_000.0
    overhead: float = 0.20


CLIENT_APPS = ("oa", "approval")
BACKGROUND = {"voice": VoiceParams, "vod": VodParams, "conference": ConferenceParams}


@dataclass(frozen=True)
class TrafficConfig:
    """Everything the generator needs besides the network model."""

    seed: int = 1
    day_minutes: float = 1440.0  # a simulated day lasts this many wall-clock minutes
    clients: Mapping[str, ClientParams] = field(
        default_factory=lambda: {a: ClientParams() for a in CLIENT_APPS}
    )
    voice: VoiceParams | None = field(default_factory=VoiceParams)
    vod: VodParams | None = field(default_factory=VodParams)
    conference: ConferenceParams | None = field(default_factory=ConferenceParams)


T = TypeVar("T")


def _params(cls: type[T], data: object, path: str, source: str, problems: list[Problem]) -> T:
    default = cls()
    if not isinstance(data, dict):
        problems.append(Problem(source, path, "must be a mapping of parameters", data))
        return default
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}"
        if key not in known:
            problems.append(
                Problem(source, where, "unknown parameter", key, f"use one of {', '.join(known)}")
            )
            continue
        want = type(getattr(default, key))
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (want is int and isinstance(value, float))
        ):
            problems.append(
                Problem(source, where, f"must be {'an integer' if want is int else 'a number'}", value)
            )
        elif value < 0 or (value == 0 and key not in ("mistype_rate", "overhead")):
            problems.append(
                Problem(source, where, "must be positive", value, "rates and sizes cannot be negative")
            )
        else:
            values[key] = want(value)
    return replace(default, **values)  # type: ignore[type-var]


def load_config(data: Mapping[str, Any], source: str = "<traffic>") -> TrafficConfig:
    """Check a traffic configuration dict; raises ModelError naming every bad field."""
    problems: list[Problem] = []
    top = {"seed", "day_minutes", "clients", "background"}
    for key in data:
        if key not in top:
            problems.append(
                Problem(source, str(key), "unknown key", key, f"use one of {', '.join(sorted(top))}")
            )
    seed = data.get("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        problems.append(Problem(source, "seed", "must be an integer >= 0", seed))
    day = data.get("day_minutes", 1440.0)
    if isinstance(day, bool) or not isinstance(day, int | float) or day <= 0:
        problems.append(Problem(source, "day_minutes", "must be a number of minutes > 0", day))
    clients: dict[str, ClientParams] = {}
    raw_clients = data.get("clients", {a: {} for a in CLIENT_APPS})
    if not isinstance(raw_clients, dict):
        problems.append(
            Problem(source, "clients", "must be a mapping of application -> parameters", raw_clients)
        )
        raw_clients = {}
    for app, params in raw_clients.items():
        if app not in CLIENT_APPS:
            problems.append(
                Problem(
                    source, f"clients.{app}", "unknown class", app, f"use one of {', '.join(CLIENT_APPS)}"
                )
            )
            continue
        clients[app] = _params(ClientParams, params, f"clients.{app}", source, problems)
    background: dict[str, Any] = {}
    raw_bg = data.get("background", {k: {} for k in BACKGROUND})
    if not isinstance(raw_bg, dict):
        problems.append(Problem(source, "background", "must be a mapping of class -> parameters", raw_bg))
        raw_bg = {}
    for cls, params in raw_bg.items():
        if cls not in BACKGROUND:
            problems.append(
                Problem(
                    source, f"background.{cls}", "unknown class", cls, f"use one of {', '.join(BACKGROUND)}"
                )
            )
            continue
        background[cls] = _params(BACKGROUND[cls], params, f"background.{cls}", source, problems)
    conf = background.get("conference")
    if isinstance(conf, ConferenceParams) and not 768_000 <= conf.rate_bps <= 2_000_000:
        problems.append(
            Problem(source, "background.conference.rate_bps", "must be 768 kbit/s .. 2 Mbit/s", conf.rate_bps)
        )
    if problems:
        raise ModelError(problems)
    return TrafficConfig(
        int(seed),
        float(day),
        clients,
        background.get("voice"),
        background.get("vod"),
        background.get("conference"),
    )
