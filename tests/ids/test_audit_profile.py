"""Behaviour profiles and the pipeline: stolen-credential patterns, alerts, the ledger, the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from cli.main import main
from govnet import events
from govnet.metrics import validate
from ids.audit import Activity, Auditor, Ledger, LoginEvent, Policy, Profiles

DAY = 86_400.0
T0 = 1_795_305_600.0  # 2026-11-22T00:00:00Z
DATA = Path(__file__).resolve().parents[1] / "data" / "audit"


def login(t: float, user: str = "alice", host: str = "10.3.4.5", result: str = "success") -> LoginEvent:
    if result == "success":
        return LoginEvent(0, t, user, host, "success", "accepted-password", "oa")
    return LoginEvent(0, t, user, host, "failure", "failed-password", "oa")


def trained() -> Profiles:
    p = Profiles(success_after_failures=5)
    for d in range(10):
        assert p.login(login(T0 + d * DAY + 9 * 3600)) is None or d < 5  # office hours, one subnet
    return p


def test_usual_login_scores_nothing() -> None:
    assert trained().login(login(T0 + 20 * DAY + 9.5 * 3600)) is None


def test_outside_hours_from_new_subnet() -> None:
    a = trained().login(login(T0 + 20 * DAY + 3 * 3600, host="198.51.100.7"))
    assert a is not None and a.score == pytest.approx(0.6)
    assert [w for _, w in a.reasons] == [0.35, 0.25]
    assert "new subnet 198.51.100.0/24" in a.explain() and "unusual hour 03:00" in a.explain()


def test_young_profile_does_not_flag_hours_or_subnets() -> None:
    p = Profiles()
    p.login(login(T0 + 9 * 3600))
    assert p.login(login(T0 + DAY + 3 * 3600, host="198.51.100.7")) is None


def test_success_after_many_failures_from_same_source() -> None:
    p = trained()
    t = T0 + 20 * DAY + 9 * 3600
    for i in range(6):
        p.login(login(t + i, host="10.3.4.99", result="failure", user=f"guess{i}"))
    a = p.login(login(t + 10, host="10.3.4.99"))
    assert a is not None and a.reasons[0] == ("success after 6 failures from 10.3.4.99", 0.6)
    # failures from another source, or too long ago, do not count
    for i in range(6):
        p.login(login(t + i, host="10.3.4.98", result="failure"))
    late = p.login(login(t + 7200, host="10.3.4.98"))  # 2 h later: only the hour is unusual
    assert late is not None and [r for r, _ in late.reasons] == ["unusual hour 11:00 UTC"]


def test_documents_far_above_usual() -> None:
    p = Profiles()
    for d in range(5):
        for k in range(4):
            assert p.activity(Activity(T0 + d * DAY + k, "bob", "oa", "open", f"{d}-{k}")) is None
    alerts = [p.activity(Activity(T0 + 6 * DAY + k, "bob", "oa", "open", f"x{k}")) for k in range(40)]
    found = [a for a in alerts if a is not None]
    assert len(found) == 1 and "11 documents today" in found[0].explain()  # once a day, at the crossing


def test_first_admin_action() -> None:
    p = trained()
    a = p.activity(Activity(T0 + 30 * DAY, "alice", "approval", "decide-approve", "7", admin=True))
    assert a is not None and a.reasons == (("first admin action (decide-approve)", 0.3),)
    assert p.activity(Activity(T0 + 31 * DAY, "alice", "approval", "decide-approve", "8", admin=True)) is None


def test_auditor_pipeline_writes_ledger_events_and_points(tmp_path: Path) -> None:
    log = events.EventLog(tmp_path / "events.json")
    with Ledger(tmp_path / "l.db") as led:
        aud = Auditor(Policy(), ledger=led, event_log=log, batch=1)
        t = T0 + 9 * 3600
        for i in range(5):
            aud.feed(login(t + i, user="erin", host="10.4.0.21", result="failure"))
        r = aud.feed(login(t + 10, user="erin", host="10.4.0.21"))
        assert [a.reasons[0][0] for a in r.anomalies] == ["success after 5 failures from 10.4.0.21"]
        assert led.verify().ok and led.count() == 7  # 6 logins + 1 lock decision
        kinds = [e.kind for e in led.entries()]
        assert kinds == ["login"] * 5 + ["decision", "login"]
        pts = aud.points(t)
        assert {(p.tags["result"], p.fields["attempts"]) for p in pts} == {("failure", 5), ("success", 1)}
        for p in pts:
            validate(p)
    log.close()
    recs = list(events.read(tmp_path / "events.json"))
    assert [r["event_type"] for r in recs] == ["block", "alert"]
    assert recs[0]["detail"]["kind"] == "lock_account" and recs[1]["alert"]["signature_id"] == 9_007_001


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_parse_ingest_verify_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys, "audit", "parse", "--kind", "sshd", str(DATA / "sshd-9.log"), "--json", "--year", "2026"
    )
    rows = [json.loads(x) for x in out.splitlines()]
    assert rc == 0 and all({"line", "time", "user", "host", "result"} <= r.keys() for r in rows)
    assert rows[0]["line"] == 2 and rows[0]["result"] == "failure"
    led = str(tmp_path / "l.db")
    rc, out, _ = run(capsys, "audit", "ingest", "--kind", "sshd", str(DATA / "sshd-8.log"), "--ledger", led)
    assert rc == 0 and "attempts" in out
    rc, out, _ = run(capsys, "audit", "verify", "--ledger", led)
    assert rc == 0 and "ok" in out
    rc, out, _ = run(capsys, "audit", "report", "--ledger", led, "--json")
    rep = json.loads(out)
    assert rc == 0 and rep["top_failing_sources"][0][0] == "203.0.113.5"
    rc, out, _ = run(capsys, "audit", "report", "--ledger", led)
    assert "top failing users" in out
    db = sqlite3.connect(led)
    db.execute("UPDATE records SET user = 'x' WHERE id = 4")
    db.commit()
    db.close()
    rc, out, err = run(capsys, "audit", "verify", "--ledger", led)
    assert rc == 1 and err.startswith("govnet: ") and "record 4" in err and len(err.splitlines()) == 1
    rc, out, err = run(capsys, "audit", "ingest", "--kind", "sshd", str(DATA / "sshd-9.log"), "--ledger", led)
    assert (
        rc == 2 and err.startswith("govnet: ") and "append refused: record 4" in err
    )  # ingest verifies first
    with Ledger(led) as ledger:
        assert ledger.count() == rep["records"]  # nothing was written


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["audit", "parse", "--kind", "sshd", "/nonexistent/auth.log"], "no such log file"),
        (["audit", "verify", "--ledger", "/nonexistent/l.db"], "no such ledger"),
        (["audit", "report", "--ledger", "/nonexistent/l.db"], "no such ledger"),
        (["audit", "policy-check", "/nonexistent/p.yaml"], "no such policy file"),
    ],
)
def test_cli_user_mistakes_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, *argv)
    assert rc != 0 and err.startswith("govnet: ") and needle in err and len(err.splitlines()) == 1


def test_cli_corrupt_ledger_and_bad_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 200)
    rc, _, err = run(capsys, "audit", "verify", "--ledger", str(junk))
    assert rc == 2 and "not a usable ledger" in err and len(err.splitlines()) == 1
    bad = tmp_path / "p.yaml"
    bad.write_text("password: {min_length: 6}\n")
    rc, _, err = run(capsys, "audit", "policy-check", str(bad))
    assert rc == 2 and err.startswith(f"govnet: {bad}: password.min_length") and len(err.splitlines()) == 1
    rc, out, _ = run(capsys, "audit", "policy-check", "--show")
    assert rc == 0 and json.loads(out)["password"]["min_length"] == 8


def test_cli_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("parse", "ingest", "verify", "report", "policy-check"):
        with pytest.raises(SystemExit):
            main(["audit", verb, "--help"])
        assert "example" in capsys.readouterr().out
