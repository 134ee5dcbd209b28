"""The audit pipeline: login events -> ledger, policy decisions -> hooks, anomalies -> alerts.

This is what a running lab (or `govnet audit ingest`) feeds. Records go to the ledger in order
(logins, then the decisions they caused), buffered up to `batch` records per transaction; with
`batch=1` every record is durable before `feed` returns. Alerts and block events go to a govnet
`EventLog` (EVE-like JSON lines) when one is given.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from govnet import events as ev_record
from govnet.metrics import LOGIN, Point, validate
from ids.audit.config import Policy
from ids.audit.ledger import Cursor, Entry, Ledger
from ids.audit.parse import Attempts
from ids.audit.policy import Clock, Decision, Enforcer, HookFailure, PolicyEngine
from ids.audit.profile import Anomaly, Profiles
from ids.audit.records import Activity, LoginEvent

SENSOR = "audit"
SID_BRUTE_SUCCESS = 9_007_001
SID_LOGIN_ANOMALY = 9_007_002
SID_DOCS = 9_007_003
SID_LOCK = 9_007_010
SID_BLOCK = 9_007_011


def decision_entry(d: Decision) -> Entry:
    """A policy decision as a ledger record (kind `decision`; refusals have result `refused`)."""
    detail = {"decision": d.kind, "until": d.until, **dict(d.detail)}
    user = str(d.detail.get("user", d.subject)) if d.kind != "block_source" else str(d.detail.get("user", ""))
    source = d.subject if d.kind == "block_source" else str(d.detail.get("source", ""))
    service = str(d.detail.get("service", d.detail.get("system", "")))
    result = "refused" if d.kind == "refuse" else "applied"
    kind = "change" if d.kind in ("refuse", "change_approved") and "system" in d.detail else "decision"
    return Entry(kind, d.at, user, source, service, result, d.reason, {"subject": d.subject, **detail})


class LedgerRecorder:
    """Hook: write each decision to a ledger at once (durable before `apply` returns)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def apply(self, decision: Decision) -> None:
        self.ledger.append(decision_entry(decision))


def anomaly_alert(a: Anomaly) -> dict[str, Any]:
    """The EVE alert of an anomaly: the strongest reason picks the signature."""
    brute = any(text.startswith("success after") for text, _ in a.reasons)
    docs = any("documents today" in text for text, _ in a.reasons)
    sid, sig = (
        (SID_BRUTE_SUCCESS, "AUDIT login success after many failures from the same source")
        if brute
        else (SID_DOCS, "AUDIT user touched far more documents than usual")
        if docs
        else (SID_LOGIN_ANOMALY, "AUDIT login outside the user's profile")
    )
    return ev_record.alert(
        sensor=SENSOR,
        signature_id=sid,
        signature=sig,
        category="Login anomaly",
        severity=1 if a.score >= 0.9 else 2,
        src_ip=a.source,
        t=a.ts,
        extra={"audit": {"user": a.user, "service": a.service, "score": a.score, "reasons": list(a.reasons)}},
    )


@dataclass
class FeedResult:
    decisions: list[Decision] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    failures: list[HookFailure] = field(default_factory=list)


class _EventTimeClock:
    """The engine's clock during a replay: the time of the event being fed."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t


def _login_event(e: Entry) -> LoginEvent:
    """The login event a ledger `login` record was made from (the fields the policy looks at)."""
    d = e.detail
    port = d.get("port")
    return LoginEvent(
        0,
        float(e.ts),
        e.user,
        e.source,
        "success" if e.result == "success" else "failure",
        e.reason,
        e.service,
        port=port if isinstance(port, int) else None,
        server=str(d.get("server", "")),
        invalid_user=bool(d.get("invalid_user", False)),
        source_kind=str(d.get("source_kind", "sshd")),
    )


class Auditor:
    """Feeds login events and activity through attempts counting, the ledger, the policy and profiles."""

    def __init__(
        self,
        policy: Policy | None = None,
        *,
        ledger: Ledger | None = None,
        hooks: Sequence[Enforcer] = (),
        event_log: ev_record.EventLog | None = None,
        clock: Clock | None = None,
        batch: int = 1,
        sshd_lines: bool = True,
    ) -> None:
        self.policy = policy or Policy()
        self.ledger = ledger
        self.event_log = event_log
        self._replay_clock = _EventTimeClock() if clock is None else None
        self.engine = PolicyEngine(self.policy, clock or self._replay_clock or _EventTimeClock(), hooks)
        self.profiles = Profiles(success_after_failures=self.policy.success_after_failures)
        self.attempts = Attempts(sshd_lines=sshd_lines)
        self.batch = max(1, batch)
        self._buffer: list[Entry] = []
        self.counts: Counter[tuple[str, str]] = Counter()
        self.seen = 0
        self.written = 0
        self._lock = threading.RLock()  # fed by follower threads and app readers at once

    @property
    def lock(self) -> threading.RLock:
        """Held by `feed`, `activity` and `flush`; hold it to make several calls one unit."""
        return self._lock

    def feed(self, ev: LoginEvent, *, flush: bool = True) -> FeedResult:
        """One parsed login event (any line kind): ledger it, and if it is an attempt, judge it.
        `flush=False` keeps the records buffered until `flush()` (used to commit with a cursor)."""
        with self._lock:
            return self._feed(ev, flush)

    def _feed(self, ev: LoginEvent, flush: bool) -> FeedResult:
        self.seen += 1
        if self._replay_clock is not None:
            self._replay_clock.t = ev.ts
        counted = self.attempts.counts(ev)
        out = FeedResult()
        if self.ledger is not None:
            self._buffer.append(Entry.login(ev, counted=counted))
        if counted:
            result = "locked" if ev.reason == "locked" else ev.result
            self.counts[(ev.service, result)] += 1
            outcome = self.engine.on_attempt(ev)
            out.decisions, out.failures = outcome.decisions, outcome.failures
            a = self.profiles.login(ev)
            if a is not None and a.score >= self.policy.anomaly_threshold:
                out.anomalies.append(a)
        self._record(out, flush)
        return out

    def restore(self, ledger: Ledger) -> int:
        """Rebuild the policy's and the profiles' state from the counted login records of an earlier
        run, so a periodic `audit ingest` judges a repeat offence as a repeat (the doubling lock) and
        not as a first offence. Replays without hooks: past decisions are already in the ledger and
        were enforced then. Returns how many attempts were replayed."""
        n = 0
        with self._lock:
            hooks, self.engine.hooks = self.engine.hooks, []
            try:
                for e in ledger.entries(kind="login"):
                    if not e.detail.get("counted"):
                        continue
                    ev = _login_event(e)
                    if self._replay_clock is not None:
                        self._replay_clock.t = ev.ts
                    self.engine.on_attempt(ev)
                    self.profiles.login(ev)
                    n += 1
            finally:
                self.engine.hooks = hooks
        return n

    def activity(self, act: Activity) -> FeedResult:
        """One app activity (documents, admin actions) for the behaviour profiles."""
        with self._lock:
            out = FeedResult()
            a = self.profiles.activity(act)
            if a is not None and a.score >= self.policy.anomaly_threshold:
                out.anomalies.append(a)
            self._record(out)
            return out

    def feed_all(self, events: Iterable[LoginEvent]) -> FeedResult:
        total = FeedResult()
        for ev in events:
            r = self.feed(ev)
            total.decisions += r.decisions
            total.anomalies += r.anomalies
            total.failures += r.failures
        self.flush()
        return total

    def _record(self, out: FeedResult, flush: bool = True) -> None:
        if self.ledger is not None:
            self._buffer.extend(decision_entry(d) for d in out.decisions)
            if flush and len(self._buffer) >= self.batch:
                self.flush()
        if self.event_log is not None:
            for d in out.decisions:
                self.event_log.write(ev_record.event("block", sensor=SENSOR, t=d.at, **d.to_json()))
            for a in out.anomalies:
                self.event_log.write(anomaly_alert(a))

    def flush(self, cursor: Cursor | None = None) -> None:
        """Commit the buffered records (and the cursor, in the same transaction)."""
        with self._lock:
            if self.ledger is not None and (self._buffer or cursor is not None):
                self.written += len(self.ledger.append_many(self._buffer, cursor))
                self._buffer = []

    def points(self, t: float | None = None) -> list[Point]:
        """Registry `login` points: attempts per service and result (locked, success, failure)."""
        ts = int((time.time() if t is None else t) * 1e9)
        with self._lock:
            counts = sorted(self.counts.items())
        return [
            validate(Point(LOGIN.name, {"service": s, "result": r}, {"attempts": n}, ts))
            for (s, r), n in counts
        ]
