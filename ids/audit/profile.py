"""Per-user behaviour profiles and an anomaly score that explains itself.

A profile learns online from each user's successful logins (hours of day, source /24 subnets — /64
for IPv6 —, services) and app activity (distinct documents touched per UTC day, admin actions). An
event is scored *before* it is learnt, so the first login from a new subnet is new. Each reason has
a weight; the score is their sum, capped at 1:

| reason | weight |
| --- | --- |
| success after >= N failures from the same source (N: policy `anomaly.success_after_failures`) | 0.6 |
| a subnet this user never logged in from | 0.35 |
| an hour of day this user rarely logs in at (< 5 % of their logins within +-1 h) | 0.25 |
| a service this user never used | 0.15 |
| an admin action by a user who never did one | 0.3 |
| documents touched today > max(10, mean + 3 sd) of their earlier days | 0.6 |

Hour, subnet and service reasons wait until the user has `min_logins` logins (default 5): a young
profile knows too little to call anything unusual.
"""

from __future__ import annotations

import ipaddress
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ids.audit.records import Activity, LoginEvent

W_BRUTE = 0.6
W_SUBNET = 0.35
W_HOUR = 0.25
W_SERVICE = 0.15
W_ADMIN = 0.3
W_DOCS = 0.6


@dataclass(frozen=True)
class Anomaly:
    """A scored event: who, when, the score (0..1) and the reasons with their weights."""

    user: str
    ts: float
    score: float
    reasons: tuple[tuple[str, float], ...]
    source: str = ""
    service: str = ""

    def explain(self) -> str:
        return "; ".join(f"{text} (+{w:g})" for text, w in self.reasons)


def subnet(address: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) of an address; the text itself when it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 64}", strict=False))


@dataclass
class UserProfile:
    logins: int = 0
    hours: Counter[int] = field(default_factory=Counter)
    subnets: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    docs: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    admin_actions: int = 0
    docs_alerted: set[int] = field(default_factory=set)

    def hour_share(self, hour: int) -> float:
        near = sum(self.hours[(hour + d) % 24] for d in (-1, 0, 1))
        return near / self.logins if self.logins else 0.0


class Profiles:
    """Baselines of every user, fed in time order; `login` and `activity` return anomalies found."""

    def __init__(
        self, *, success_after_failures: int = 5, min_logins: int = 5, window_s: float = 3600.0
    ) -> None:
        self.users: dict[str, UserProfile] = defaultdict(UserProfile)
        self.n_failures = success_after_failures
        self.min_logins = min_logins
        self.window_s = window_s
        self._fails: dict[str, list[float]] = defaultdict(
            list
        )  # source -> failure times since its last success

    def login(self, ev: LoginEvent) -> Anomaly | None:
        """Score one counted login attempt (failures only update the per-source count)."""
        if ev.result == "failure":
            if ev.host:
                self._fails[ev.host].append(ev.ts)
            return None
        reasons: list[tuple[str, float]] = []
        p = self.users[ev.user]
        if ev.host:
            recent = [t for t in self._fails.pop(ev.host, []) if ev.ts - t <= self.window_s]
            if len(recent) >= self.n_failures:
                reasons.append((f"success after {len(recent)} failures from {ev.host}", W_BRUTE))
        hour = int(ev.ts // 3600 % 24)
        net = subnet(ev.host) if ev.host else ""
        if p.logins >= self.min_logins:
            if net and p.subnets[net] == 0:
                reasons.append((f"new subnet {net}", W_SUBNET))
            if p.hour_share(hour) < 0.05:
                reasons.append((f"unusual hour {hour:02d}:00 UTC", W_HOUR))
            if p.services[ev.service] == 0:
                reasons.append((f"new service {ev.service}", W_SERVICE))
        p.logins += 1
        p.hours[hour] += 1
        if net:
            p.subnets[net] += 1
        p.services[ev.service] += 1
        return self._anomaly(ev.user, ev.ts, reasons, ev.host, ev.service)

    def activity(self, act: Activity) -> Anomaly | None:
        """Score one app activity: admin actions and documents touched per day."""
        p = self.users[act.user]
        reasons: list[tuple[str, float]] = []
        if act.admin:
            if p.admin_actions == 0 and p.logins >= self.min_logins:
                reasons.append((f"first admin action ({act.action})", W_ADMIN))
            p.admin_actions += 1
        if act.target:
            day = int(act.ts // 86_400)
            p.docs[day].add(act.target)
            earlier = [len(v) for d, v in p.docs.items() if d < day]
            today = len(p.docs[day])
            if len(earlier) >= 3 and day not in p.docs_alerted:
                mean = sum(earlier) / len(earlier)
                sd = math.sqrt(sum((x - mean) ** 2 for x in earlier) / len(earlier))
                limit = max(10.0, mean + 3 * sd)
                if today > limit:
                    p.docs_alerted.add(day)
                    reasons.append((f"{today} documents today, usual {mean:.0f} (limit {limit:.0f})", W_DOCS))
        return self._anomaly(act.user, act.ts, reasons, "", act.service)

    @staticmethod
    def _anomaly(
        user: str, ts: float, reasons: list[tuple[str, float]], source: str, service: str
    ) -> Anomaly | None:
        if not reasons:
            return None
        return Anomaly(
            user, ts, min(1.0, round(sum(w for _, w in reasons), 6)), tuple(reasons), source, service
        )
