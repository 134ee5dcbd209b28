"""Enforcement on a lab sshd: the `ids.audit` hook for account locks and source blocks.

It takes any decision with `kind`, `subject`, `at` and `until` (`ids.audit.policy.Decision` is one),
so the lab sshd does not import the audit that drives it (docs/layers.md: no import circles).

    enforcer = LabSshdEnforcer(lab)               # lab: a running LabSshd
    auditor = Auditor(policy, ledger=ledger, hooks=[enforcer])
    enforcer.start()                              # unlocks / unblocks when the decision's `until` passes
    ...
    enforcer.close()

- `lock_account` -> `!` in front of the account's hash in the lab shadow, edited in place (the file is
  bind-mounted by inode). sshd re-reads the shadow on every try, so a lock also stops connections
  already open; sshd logs `User U not allowed because account is locked` and refuses even the right
  password. Names that are not lab accounts (guessed ones like `root`) are recorded as skipped.
- `block_source` -> `DenyUsers *@ADDR` in the lab sshd's config, which its supervisor checks with
  `sshd -t` and installs on SIGHUP; the hook returns once it is installed (or raises). Each new
  connection runs its own `sshd -i` on the current config, so the next connection from ADDR is
  refused for every user (`User U from ADDR not allowed because listed in DenyUsers`); connections
  already open keep the config they started with until they end (MaxAuthTries).

Each action is kept in `applied` with the decision's time (the log line's) and the time it took
effect, so the delay from the threshold to enforcement can be measured.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ids.labsshd.accounts import LabSshdError
from ids.labsshd.daemon import LabSshd


class Decision(Protocol):
    """What `LabSshdEnforcer.apply` reads of an audit decision."""

    @property
    def kind(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def until(self) -> float | None: ...


@dataclass(frozen=True)
class Applied:
    """One enforcement action: what, on whom, when decided (log time), when in effect (wall time)."""

    kind: str  # lock_account, unlock_account, block_source, unblock_source, skipped
    subject: str
    applied_at: float
    decided_at: float | None = None
    until: float | None = None
    note: str = ""

    @property
    def delay(self) -> float | None:
        """Seconds from the decision (the threshold-crossing log line) to the action in effect."""
        return None if self.decided_at is None else self.applied_at - self.decided_at


def _later(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else max(a, b)


class LabSshdEnforcer:
    """An `Enforcer` (`apply(decision)`) for one lab sshd, with timed unlock and unblock."""

    KINDS = frozenset({"lock_account", "block_source"})

    def __init__(
        self, lab: LabSshd, *, clock: Callable[[], float] = time.time, reload_timeout: float = 2.0
    ) -> None:
        self.lab = lab
        self.clock = clock
        self.reload_timeout = reload_timeout
        self.accounts = frozenset(a.name for a in lab.accounts)
        self.locks: dict[str, float | None] = {}  # accounts we locked -> until
        self.applied: list[Applied] = []
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def apply(self, decision: Decision) -> None:
        if decision.kind == "lock_account":
            self.lock(decision.subject, decision.until, decided_at=decision.at)
        elif decision.kind == "block_source":
            self.block(decision.subject, decision.until, decided_at=decision.at)

    def _record(self, rec: Applied) -> Applied:
        self.applied.append(rec)
        self._wake.set()
        return rec

    def lock(self, user: str, until: float | None = None, *, decided_at: float | None = None) -> Applied:
        """Lock a lab account until `until` (None: until `unlock`)."""
        with self._lock:
            if user not in self.accounts:
                return self._record(
                    Applied(
                        "skipped", user, self.clock(), decided_at, until, "not a lab account: nothing to lock"
                    )
                )
            try:
                self.lab.shadow.lock(user)
            except LabSshdError as exc:
                raise LabSshdError(f"lock_account {user} on lab sshd {self.lab.name}: {exc}") from None
            self.locks[user] = _later(self.locks[user], until) if user in self.locks else until
            return self._record(Applied("lock_account", user, self.clock(), decided_at, until))

    def unlock(self, user: str) -> Applied:
        with self._lock:
            self.lab.shadow.unlock(user)
            self.locks.pop(user, None)
            return self._record(Applied("unlock_account", user, self.clock()))

    def block(self, source: str, until: float | None = None, *, decided_at: float | None = None) -> Applied:
        """Refuse every login from `source` (an address or network) until `until`; waits for the reload."""
        with self._lock:
            denied = self.lab.denied()
            denied[source] = _later(denied[source], until) if source in denied else until
            try:
                took = self.lab.set_denied(denied) if self.reload_timeout else 0.0
            except LabSshdError as exc:
                raise LabSshdError(
                    f"block_source {source} on lab sshd {self.lab.name} not applied: {exc}"
                ) from None
            return self._record(
                Applied(
                    "block_source",
                    source,
                    self.clock(),
                    decided_at,
                    until,
                    f"reloaded in {took * 1000:.0f} ms",
                )
            )

    def unblock(self, source: str) -> Applied:
        with self._lock:
            denied = self.lab.denied()
            denied.pop(source, None)
            self.lab.set_denied(denied)
            return self._record(Applied("unblock_source", source, self.clock()))

    def expire(self, now: float | None = None) -> list[Applied]:
        """Unlock and unblock what has run out by `now` (default: the clock); one reload for all."""
        with self._lock:
            t = self.clock() if now is None else now
            out = [
                self.unlock(u) for u, until in sorted(self.locks.items()) if until is not None and until <= t
            ]
            denied = self.lab.denied()
            gone = sorted(s for s, until in denied.items() if until is not None and until <= t)
            if gone:
                self.lab.set_denied({s: u for s, u in denied.items() if s not in gone})
                out += [self._record(Applied("unblock_source", s, self.clock())) for s in gone]
            return out

    def next_expiry(self) -> float | None:
        with self._lock:
            ends = [u for u in self.locks.values() if u is not None]
            ends += [u for u in self.lab.denied().values() if u is not None]
            return min(ends) if ends else None

    # --- background expiry ----------------------------------------------------------------------
    def start(self) -> None:
        """Run `expire` in a thread whenever a lock or block runs out."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"labsshd-expiry-{self.lab.name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            nxt = self.next_expiry()
            wait = 3600.0 if nxt is None else max(0.0, nxt - self.clock())
            self._wake.wait(min(wait, 3600.0))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.expire()
            except LabSshdError as exc:  # sshd gone: keep the thread; the next wake retries
                self.applied.append(Applied("skipped", "expiry", self.clock(), note=str(exc)))
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
