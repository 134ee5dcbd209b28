"""The account policy engine: pure logic over login attempts, with the clock passed in.

Decisions are data (`Decision`); enforcement is somebody else's job, reached through hooks:
an `Enforcer` is anything with `apply(decision)`. The engine calls every hook for every decision;
a hook that raises does not stop the others, its failure is returned in `Outcome.failures`.

Time: the engine's time is the latest time it has seen (attempt times from logs, or the clock).
When the clock or a log steps back, the engine keeps its time: a lock is never shortened and a
window never re-opens because of a step back; an attempt stamped earlier counts at the engine's time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ids.audit.config import Limit, Policy
from ids.audit.records import LoginEvent

DecisionKind = Literal[
    "lock_account",
    "block_source",
    "disable_account",
    "require_password_change",
    "enable_account",
    "refuse",
    "change_approved",
]


class Clock(Protocol):
    def now(self) -> float: ...


@dataclass(frozen=True)
class Decision:
    """What the policy decided: `kind` on `subject` (a user, an address, a system) `until` a time
    (None: until an administrator acts), at time `at`, and why."""

    kind: DecisionKind
    subject: str
    reason: str
    at: float
    until: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "reason": self.reason,
            "at": self.at,
            "until": self.until,
            "detail": dict(self.detail),
        }


class Enforcer(Protocol):
    """A hook that carries out decisions (apps' account lock, firewall block, ledger, event log)."""

    def apply(self, decision: Decision) -> None: ...


@dataclass(frozen=True)
class HookFailure:
    hook: str
    decision: Decision
    error: str


@dataclass
class Outcome:
    """Decisions made for one input, and the hooks that failed to carry them out."""

    decisions: list[Decision] = field(default_factory=list)
    failures: list[HookFailure] = field(default_factory=list)


class CallbackEnforcer:
    """Wraps a plain function `fn(decision)`, optionally only for some decision kinds."""

    def __init__(self, fn: Callable[[Decision], None], kinds: Iterable[str] | None = None) -> None:
        self.fn = fn
        self.kinds = frozenset(kinds) if kinds is not None else None

    def apply(self, decision: Decision) -> None:
        if self.kinds is None or decision.kind in self.kinds:
            self.fn(decision)


@dataclass
class _Tracker:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    offences: deque[float] = field(default_factory=deque)


@dataclass
class _Change:
    system: str
    requested_by: str
    at: float
    approvals: dict[str, float] = field(default_factory=dict)


class PolicyEngine:
    """Failure limits per account and per source, idle disablement, password rules, account approval,
    and the three-person rule. Thread-safe: one lock around the state."""

    def __init__(self, policy: Policy, clock: Clock, hooks: Sequence[Enforcer] = ()) -> None:
        self.policy = policy
        self.clock = clock
        self.hooks = list(hooks)
        self._lock = threading.RLock()
        self._now = float("-inf")
        self._accounts: dict[str, _Tracker] = {}
        self._sources: dict[str, _Tracker] = {}
        self.last_success: dict[str, float] = {}
        self._history: dict[str, deque[tuple[bytes, bytes]]] = {}
        self._pending_accounts: dict[str, str] = {}
        self._changes: dict[int, _Change] = {}
        self._next_change = 1

    # --- time and hooks ----------------------------------------------------------------------
    def _time(self, t: float | None = None) -> float:
        t = self.clock.now() if t is None else t
        self._now = max(self._now, t)
        return self._now

    def _emit(self, decisions: list[Decision]) -> Outcome:
        out = Outcome(decisions)
        for d in decisions:
            for hook in self.hooks:
                try:
                    hook.apply(d)
                except Exception as exc:  # one failing target does not stop the rest
                    out.failures.append(HookFailure(type(hook).__name__, d, f"{type(exc).__name__}: {exc}"))
        return out

    # --- failure limits -----------------------------------------------------------------------
    def locked(self, user: str, t: float | None = None) -> bool:
        with self._lock:
            tr = self._accounts.get(user)
            return tr is not None and tr.locked_until > self._time(t)

    def blocked(self, source: str, t: float | None = None) -> bool:
        with self._lock:
            tr = self._sources.get(source)
            return tr is not None and tr.locked_until > self._time(t)

    def on_attempt(self, ev: LoginEvent) -> Outcome:
        """Account for one counted login attempt (see `ids.audit.parse.Attempts`)."""
        with self._lock:
            now = self._time(ev.ts)
            decisions: list[Decision] = []
            if ev.result == "success":
                self.last_success[ev.user] = now
                if self.policy.reset_on_success and ev.user in self._accounts:
                    self._accounts[ev.user].failures.clear()
                return self._emit(decisions)
            if ev.user:
                d = self._fail(self._accounts, ev.user, self.policy.account, now, "lock_account", ev)
                if d:
                    decisions.append(d)
            if ev.host and not self.policy.never_blocked(ev.host):
                d = self._fail(self._sources, ev.host, self.policy.source, now, "block_source", ev)
                if d:
                    decisions.append(d)
        return self._emit(decisions)

    def _fail(
        self,
        table: dict[str, _Tracker],
        key: str,
        limit: Limit,
        now: float,
        kind: DecisionKind,
        ev: LoginEvent,
    ) -> Decision | None:
        tr = table.setdefault(key, _Tracker())
        if tr.locked_until > now:
            return None  # already locked: the attempt is refused, nothing new to decide
        tr.failures.append(now)
        while tr.failures and tr.failures[0] <= now - limit.window_s:
            tr.failures.popleft()
        if len(tr.failures) < limit.failures:
            return None
        while tr.offences and tr.offences[0] <= now - limit.repeat_window_s:
            tr.offences.popleft()
        lock = limit.lock_for(len(tr.offences))
        repeat = len(tr.offences)
        tr.offences.append(now)
        tr.failures.clear()
        tr.locked_until = now + lock
        what = "account" if kind == "lock_account" else "source"
        return Decision(
            kind,
            key,
            f"{limit.failures} failed logins within {limit.window_s:g} s for this {what}"
            + (f" (repeat offence {repeat + 1}: lock x{limit.repeat_factor**repeat:g})" if repeat else ""),
            now,
            now + lock,
            {
                "service": ev.service,
                "user": ev.user,
                "source": ev.host,
                "lock_s": lock,
                "offence": repeat + 1,
            },
        )

    # --- idle accounts and passwords ----------------------------------------------------------
    def idle_sweep(self, accounts: Mapping[str, float], t: float | None = None) -> Outcome:
        """Disable accounts with no successful login for `idle_disable_days`; `accounts` maps each
        account to its creation time (used when it never logged in)."""
        with self._lock:
            now = self._time(t)
            limit = self.policy.idle_disable_days * 86_400
            out = []
            for user, created in sorted(accounts.items()):
                last = max(self.last_success.get(user, created), created)
                if now - last >= limit:
                    out.append(
                        Decision(
                            "disable_account",
                            user,
                            f"no login for {(now - last) / 86_400:.0f} days "
                            f"(limit {self.policy.idle_disable_days:g})",
                            now,
                            None,
                            {"last_login": last},
                        )
                    )
        return self._emit(out)

    def password_problems(self, user: str, password: str) -> list[str]:
        """What is wrong with a new password: length and reuse of the last `password_history` ones."""
        problems = []
        if len(password) < self.policy.password_min_length:
            problems.append(
                f"a password needs at least {self.policy.password_min_length} characters "
                f"(got {len(password)})"
            )
        with self._lock:
            for salt, digest in self._history.get(user, ()):
                if hmac.compare_digest(_digest(password, salt), digest):
                    problems.append(
                        f"the password was used in the last {self.policy.password_history} changes"
                    )
                    break
        return problems

    def set_password(self, user: str, password: str) -> list[str]:
        """Record a password change (only a salted hash is kept); returns the problems, empty when
        accepted. The caller stores the password itself."""
        problems = self.password_problems(user, password)
        if problems:
            return problems
        with self._lock:
            salt = secrets.token_bytes(16)
            hist = self._history.setdefault(user, deque(maxlen=max(1, self.policy.password_history)))
            if self.policy.password_history:
                hist.append((salt, _digest(password, salt)))
        return []

    def rotation_due(self, changed: Mapping[str, float], t: float | None = None) -> Outcome:
        """Require a change of every password older than `password_max_age_days`."""
        with self._lock:
            now = self._time(t)
            limit = self.policy.password_max_age_days * 86_400
            out = [
                Decision(
                    "require_password_change",
                    user,
                    f"password is {(now - at) / 86_400:.0f} days old "
                    f"(limit {self.policy.password_max_age_days:g})",
                    now,
                    None,
                    {"changed": at},
                )
                for user, at in sorted(changed.items())
                if now - at >= limit
            ]
        return self._emit(out)

    # --- account approval ---------------------------------------------------------------------
    def request_account(self, user: str, requested_by: str) -> Outcome:
        """A new account; enabled at once only when the policy needs no approval."""
        with self._lock:
            now = self._time()
            if not self.policy.approval_required:
                return self._emit([Decision("enable_account", user, "no approval required", now)])
            self._pending_accounts[user] = requested_by
        return Outcome()

    def approve_account(self, user: str, admin: str) -> Outcome:
        with self._lock:
            now = self._time()
            requester = self._pending_accounts.get(user)
            if requester is None:
                d = Decision("refuse", user, "no pending request for this account", now, detail={"by": admin})
            elif admin not in self.policy.admins:
                d = Decision("refuse", user, f"{admin} is not an administrator", now, detail={"by": admin})
            elif admin == requester:
                d = Decision(
                    "refuse",
                    user,
                    "the requester cannot approve their own account request",
                    now,
                    detail={"by": admin},
                )
            else:
                del self._pending_accounts[user]
                d = Decision("enable_account", user, f"approved by {admin}", now, detail={"by": admin})
        return self._emit([d])

    # --- three-person rule --------------------------------------------------------------------
    def request_change(self, system: str, requested_by: str) -> int:
        """Open a password change of `system`; returns its id for `approve_change`/`apply_change`."""
        with self._lock:
            cid = self._next_change
            self._next_change += 1
            self._changes[cid] = _Change(system, requested_by, self._time())
            return cid

    def approve_change(self, change_id: int, approver: str) -> None:
        with self._lock:
            ch = self._changes.get(change_id)
            if ch is None:
                raise KeyError(f"no open password change {change_id}")
            ch.approvals[approver] = self._time()

    def apply_change(self, change_id: int) -> Outcome:
        """Allow the change when enough distinct approvers approved within the window; else refuse.
        Either way the decision goes to the hooks (the ledger records refusals too)."""
        with self._lock:
            now = self._time()
            ch = self._changes.pop(change_id, None)
            if ch is None:
                return self._emit([Decision("refuse", f"change {change_id}", "no such open change", now)])
            need = self.policy.critical_approvers if ch.system in self.policy.critical_systems else 1
            valid = sorted(
                a
                for a, at in ch.approvals.items()
                if now - at <= self.policy.critical_window_s
                and (self.policy.requester_may_approve or a != ch.requested_by)
            )
            detail = {
                "system": ch.system,
                "requested_by": ch.requested_by,
                "approvers": valid,
                "needed": need,
            }
            if len(valid) >= need:
                d = Decision(
                    "change_approved", ch.system, f"{len(valid)} distinct approvers", now, detail=detail
                )
            else:
                d = Decision(
                    "refuse",
                    ch.system,
                    f"password change needs {need} distinct approvers within "
                    f"{self.policy.critical_window_s:g} s, got {len(valid)}",
                    now,
                    detail=detail,
                )
        return self._emit([d])


def _digest(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 10_000)
