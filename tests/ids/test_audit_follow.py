"""Following growing logs into the ledger: exactly once across polls, rotation, restarts and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ids.audit import Auditor, Ledger, LogFollower, parse_file

ROOT = Path(__file__).resolve().parents[2]
FAIL = "Nov 22 06:{m:02d}:{s:02d} srv sshd[{pid}]: Failed password for u{i} from 10.0.0.{h} port 22 ssh2\n"


def lines(start: int, n: int) -> str:
    return "".join(
        FAIL.format(m=i // 60 % 60, s=i % 60, pid=1000 + i, i=i, h=i % 200 + 1)
        for i in range(start, start + n)
    )


def logins(ledger: Ledger) -> list[int]:
    return [int(e.user[1:]) for e in ledger.entries(kind="login")]


def test_polls_take_only_new_complete_lines(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(lines(0, 3))
    with Ledger(tmp_path / "l.db") as led:
        f = LogFollower(log, "sshd", Auditor(ledger=led), year=2026)
        f.poll()
        assert logins(led) == [0, 1, 2]
        with open(log, "a") as fh:
            fh.write(lines(3, 2))
            fh.write(lines(5, 1)[:30])  # half a line: still being written
        f.poll()
        assert logins(led) == [0, 1, 2, 3, 4]
        with open(log, "a") as fh:
            fh.write(lines(5, 1)[30:])
        f.poll()
        f.poll()
        assert logins(led) == [0, 1, 2, 3, 4, 5]
        assert [e.id for e in led.entries(kind="login")][-1] == led.count()
        assert led.verify().ok


def test_restart_resumes_and_rotation_restarts(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(lines(0, 4))
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        LogFollower(log, "sshd", Auditor(ledger=led), year=2026).poll()
    with open(log, "a") as fh:
        fh.write(lines(4, 2))
    with Ledger(path) as led:  # a new process: resumes at line 5
        f = LogFollower(log, "sshd", Auditor(ledger=led), year=2026)
        assert f.line == 5
        f.poll()
        assert logins(led) == [0, 1, 2, 3, 4, 5]
        os.rename(log, tmp_path / "auth.log.1")  # logrotate: a new file, a new inode
        log.write_text(lines(100, 2))
        f.poll()
        assert logins(led)[-2:] == [100, 101]
        log.write_text(lines(200, 1))  # truncated in place (copytruncate) and shorter
        f.poll()
        assert logins(led)[-1] == 200
        assert led.verify().ok


def test_follower_thread_and_app_feed_share_one_ledger(tmp_path: Path) -> None:
    from ids.audit import CallbackEnforcer, Decision, LoginEvent

    log = tmp_path / "auth.log"
    log.write_text("")
    locks: list[Decision] = []
    with Ledger(tmp_path / "l.db") as led:
        aud = Auditor(ledger=led, batch=1, hooks=[CallbackEnforcer(locks.append, kinds={"lock_account"})])
        f = LogFollower(log, "sshd", aud, year=2026)
        stop = threading.Event()
        th = threading.Thread(target=f.run, args=(stop, 0.01))
        th.start()
        try:
            for i in range(200):
                with open(log, "a") as fh:
                    fh.write(lines(i, 1))
                aud.feed(
                    LoginEvent(
                        i, 1_795_327_200.0 + i, f"app{i}", "10.4.0.2", "failure", "failed-password", "oa"
                    )
                )
            t0 = time.monotonic()
            while sum(1 for _ in led.entries(kind="login")) < 400 and time.monotonic() - t0 < 5:
                time.sleep(0.01)
        finally:
            stop.set()
            th.join()
        got = [e.user for e in led.entries(kind="login")]
        assert sorted(u for u in got if u.startswith("u")) == sorted(f"u{i}" for i in range(200))
        assert len(got) == 400 and led.verify().ok
        assert locks == []  # every user failed once: no account reached the limit
        assert led.cursor(f.key) is not None and led.cursor(f.key).line == 201  # type: ignore[union-attr]


def test_sigkill_during_ingest_then_resume_is_exactly_once(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(lines(0, 25_000))
    expected = sum(1 for _ in parse_file(log, "sshd", year=2026))
    led = tmp_path / "l.db"
    cmd = [sys.executable, "-m", "cli", "audit", "ingest", "--kind", "sshd", str(log)]
    cmd += ["--ledger", str(led), "--year", "2026"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # wait until some records are committed, then kill
        time.sleep(0.05)
        if led.exists():
            try:
                with Ledger(led) as ledger:
                    if ledger.count() > 0:
                        break
            except Exception:
                continue
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Ledger(led) as ledger:
        partial = ledger.count()
        assert ledger.verify().ok
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with Ledger(led) as ledger:
        got = logins(ledger)
        assert ledger.verify().ok
    assert sorted(got) == list(range(expected))  # none lost, none twice
    assert 0 < partial < expected, partial  # the kill landed mid-way
