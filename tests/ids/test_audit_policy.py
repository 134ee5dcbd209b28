"""The account policy: windows, repeat offenders, clock steps, concurrency, passwords, approvals,
the three-person rule, and the policy file's validation."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from govnet.errors import AuditError
from ids.audit import CallbackEnforcer, Decision, Ledger, LedgerRecorder, LoginEvent, Policy, PolicyEngine
from ids.audit.config import Limit, PolicyError, load_policy, policy_document

T0 = 1_795_327_200.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def fail(t: float, user: str = "bob", host: str = "10.0.0.5") -> LoginEvent:
    return LoginEvent(0, t, user, host, "failure", "failed-password", "ssh")


def ok(t: float, user: str = "bob", host: str = "10.0.0.5") -> LoginEvent:
    return LoginEvent(0, t, user, host, "success", "accepted-password", "ssh")


def engine(**kw: object) -> tuple[PolicyEngine, list[Decision], Clock]:
    seen: list[Decision] = []
    clock = Clock()
    pol = Policy(
        account=Limit(
            failures=3, window_s=60, lock_s=100, repeat_factor=2, repeat_window_s=1000, max_lock_s=350
        ),
        source=Limit(failures=5, window_s=60, lock_s=1000, max_lock_s=5000),
        **kw,  # type: ignore[arg-type]
    )
    return PolicyEngine(pol, clock, [CallbackEnforcer(seen.append)]), seen, clock


def test_defaults_are_the_plans_numbers() -> None:
    p = Policy()
    assert (p.idle_disable_days, p.password_min_length, p.password_max_age_days) == (30, 8, 60)
    assert p.critical_approvers == 3 and p.approval_required
    assert p.account.failures == 5  # as the OA service


def test_window_boundary() -> None:
    eng, seen, _ = engine()
    eng.on_attempt(fail(T0))
    eng.on_attempt(fail(T0 + 30))
    eng.on_attempt(fail(T0 + 60))  # the first one is exactly window_s old: out of the window
    assert not seen
    eng.on_attempt(fail(T0 + 59.999 + 30))  # three inside (30, 60, 89.999)
    assert [d.kind for d in seen] == ["lock_account"]
    assert seen[0].until == pytest.approx(T0 + 89.999 + 100)
    assert eng.locked("bob", T0 + 150) and not eng.locked("bob", T0 + 190)


def test_success_resets_account_count_not_source() -> None:
    eng, seen, _ = engine()
    for t in (0, 1):
        eng.on_attempt(fail(T0 + t))
    eng.on_attempt(ok(T0 + 2))
    eng.on_attempt(fail(T0 + 3))
    assert not seen


def test_repeat_offenders_get_longer_locks_capped() -> None:
    eng, seen, _ = engine()
    t = T0
    for _ in range(4):
        for _ in range(3):
            eng.on_attempt(fail(t))
            t += 1
        t = seen[-1].until or t  # wait out the lock
    locks = [d.detail["lock_s"] for d in seen if d.kind == "lock_account"]
    assert locks == [100, 200, 350, 350]
    assert "repeat offence 2" in seen[1].reason


def test_offences_forgotten_after_repeat_window() -> None:
    eng, seen, _ = engine()
    for t in (0, 1, 2):
        eng.on_attempt(fail(T0 + t))
    for t in (2000, 2001, 2002):
        eng.on_attempt(fail(T0 + t))
    assert [d.detail["lock_s"] for d in seen] == [100, 100]


def test_source_block_across_accounts_and_never_block() -> None:
    eng, seen, _ = engine()
    for i in range(5):
        eng.on_attempt(fail(T0 + i, user=f"u{i}"))
    assert [d.kind for d in seen] == ["block_source"] and seen[0].subject == "10.0.0.5"
    assert eng.blocked("10.0.0.5")
    seen.clear()
    for i in range(10):
        eng.on_attempt(fail(T0 + i, user=f"v{i}", host="127.0.0.1"))
    assert not seen


def test_clock_going_backwards_never_shortens_a_lock() -> None:
    eng, seen, clock = engine()
    for t in (0, 1, 2):
        eng.on_attempt(fail(T0 + 1000 + t))
    until = seen[0].until
    clock.t = T0  # NTP stepped back 1000 s
    assert eng.locked("bob")
    eng.on_attempt(fail(T0 + 5))  # a log line stamped before the lock: counted at engine time, refused
    assert len(seen) == 1 and seen[0].until == until
    assert eng.locked("bob", T0 + 1050) and not eng.locked("bob", T0 + 1103)


def test_concurrent_attempts_lock_exactly_once() -> None:
    eng, seen, _ = engine()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        for _ in range(10):
            eng.on_attempt(fail(T0, host=""))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert [d.kind for d in seen] == ["lock_account"]


def test_failing_hook_does_not_stop_the_others() -> None:
    got: list[Decision] = []

    def boom(_d: Decision) -> None:
        raise RuntimeError("firewall unreachable")

    pol = Policy(account=Limit(failures=1, window_s=60, lock_s=60))
    eng = PolicyEngine(pol, Clock(), [CallbackEnforcer(boom), CallbackEnforcer(got.append)])
    out = eng.on_attempt(fail(T0, host=""))
    assert len(got) == 1 and out.failures[0].error == "RuntimeError: firewall unreachable"
    only_blocks: list[Decision] = []
    eng2 = PolicyEngine(pol, Clock(), [CallbackEnforcer(only_blocks.append, kinds={"block_source"})])
    eng2.on_attempt(fail(T0, host=""))
    assert only_blocks == []


def test_idle_and_rotation() -> None:
    eng, _seen, clock = engine()
    eng.on_attempt(ok(T0 - 10 * 86_400, user="active"))
    clock.t = T0
    out = eng.idle_sweep({"active": T0 - 100 * 86_400, "idle": T0 - 30 * 86_400, "new": T0 - 29 * 86_400})
    assert [d.subject for d in out.decisions] == ["idle"]
    out = eng.rotation_due({"a": T0 - 60 * 86_400, "b": T0 - 59 * 86_400})
    assert [(d.kind, d.subject) for d in out.decisions] == [("require_password_change", "a")]


def test_password_rules_and_history() -> None:
    eng, _, _ = engine(password_history=2)
    assert eng.set_password("bob", "short7c") == ["a password needs at least 8 characters (got 7)"]
    assert eng.set_password("bob", "first-pass") == []
    assert eng.set_password("bob", "second-pass") == []
    assert "used in the last 2" in eng.set_password("bob", "first-pass")[0]
    assert eng.set_password("bob", "third-pass") == []
    assert eng.set_password("bob", "first-pass") == []  # fell out of a history of 2


def test_account_approval() -> None:
    eng, seen, _ = engine(admins=("root-admin", "secadm"))
    eng.request_account("newbie", requested_by="secadm")
    assert seen == []
    eng.approve_account("newbie", "mallory")
    eng.approve_account("newbie", "secadm")  # the requester
    eng.approve_account("newbie", "root-admin")
    assert [(d.kind, d.reason) for d in seen] == [
        ("refuse", "mallory is not an administrator"),
        ("refuse", "the requester cannot approve their own account request"),
        ("enable_account", "approved by root-admin"),
    ]


def test_three_person_rule_refused_and_recorded_in_ledger(tmp_path: Path) -> None:
    clock = Clock()
    with Ledger(tmp_path / "l.db") as led:
        eng = PolicyEngine(Policy(), clock, [LedgerRecorder(led)])
        cid = eng.request_change("fw-a", "alice")
        for who in ("alice", "bob", "carol", "carol"):  # the requester and a duplicate do not count
            eng.approve_change(cid, who)
        refused = eng.apply_change(cid).decisions[0]
        assert refused.kind == "refuse" and "needs 3 distinct approvers" in refused.reason
        assert refused.detail["approvers"] == ["bob", "carol"]

        cid = eng.request_change("fw-a", "alice")
        eng.approve_change(cid, "bob")
        clock.t += 86_401  # bob's approval expires
        for who in ("carol", "dave", "erin"):
            eng.approve_change(cid, who)
        ok_ = eng.apply_change(cid).decisions[0]
        assert ok_.kind == "change_approved" and ok_.detail["approvers"] == ["carol", "dave", "erin"]

        cid = eng.request_change("printer", "alice")  # not critical: one approver is enough
        eng.approve_change(cid, "bob")
        assert eng.apply_change(cid).decisions[0].kind == "change_approved"
        with pytest.raises(KeyError):
            eng.approve_change(999, "bob")
        rows = [(e.kind, e.result) for e in led.entries()]
        assert rows == [("change", "refused"), ("change", "applied"), ("change", "applied")]
        assert led.verify().ok


def test_policy_file_round_trip_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text("account_lockout: {failures: 3, window_s: 60}\npassword: {history: 0}\n")
    p = load_policy(good)
    assert p.account.failures == 3 and p.account.lock_s == 1800 and p.password_history == 0
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps(policy_document(p)))
    assert load_policy(as_json) == p

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "account_lockout: {failures: true, lock_s: 100, max_lock_s: 50}\n"
        "source_block: {never_block: [10.0.0.0/33]}\n"
        "password: {min_length: 7}\n"
        "critical_change: {approvers: 2.5}\n"
        "extra: 1\n"
    )
    with pytest.raises(PolicyError) as err:
        load_policy(bad)
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"{bad}: account_lockout.failures: not a valid count value (got True)")
    assert any("source_block.never_block" in x and "10.0.0.0/33" in x for x in lines)
    assert any("password.min_length" in x and "longer than 7" in x for x in lines)
    assert any("critical_change.approvers" in x for x in lines)
    assert any(x.startswith(f"{bad}: extra: unknown section") for x in lines)
    assert any("account_lockout.max_lock_s: is shorter than lock_s" in x for x in lines)

    for text, word in (
        ("[1, 2]", "must be a mapping"),
        ("a: [unclosed", "invalid YAML"),
        ("password: 5", "mapping"),
    ):
        bad.write_text(text)
        with pytest.raises(PolicyError, match=word):
            load_policy(bad)
    with pytest.raises(AuditError, match="no such policy file"):
        load_policy(tmp_path / "missing.yaml")
