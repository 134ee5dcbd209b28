"""The approval service over real HTTP on 127.0.0.1: parallel review, escalation, receipts, restarts."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.approval import LEVELS, ApprovalService, Limits, Mailer
from apps.clock import ManualClock
from apps.smtp import SmtpSink, send_mail
from apps.web import serve_in_thread

DEPTS = ["planning", "environment", "fire-safety"]
LIMITS = Limits(accept=3600.0, review=7200.0, final=1800.0)


class Deployment:
    def __init__(self, tmp: Path, sink: SmtpSink) -> None:
        self.tmp, self.clock = tmp, ManualClock()
        self.mailer = Mailer("127.0.0.1", sink.server_address[1])
        self.start()

    def start(self) -> None:
        self.svc = ApprovalService(self.tmp / "approval.db", self.clock, LIMITS, self.mailer)
        self.server = serve_in_thread(self.svc.app)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.svc.close()

    def call(self, method: str, path: str, body: object = None, raw: bytes | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.server_address[1], timeout=10)
        try:
            data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
            conn.request(method, path, body=data)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def submit(self, depts: list[str] = DEPTS) -> int:
        status, body = self.call("POST", "/applications", {
            "applicant": "Wang Fang", "email": "wang@example.org", "subject": "shop licence",
            "departments": depts})  # fmt: skip
        assert status == 201, body
        return int(body["id"])


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    s = SmtpSink().start()
    yield s
    s.stop()


@pytest.fixture
def ap(tmp_path: Path, sink: SmtpSink) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, sink)
    yield dep
    dep.stop()


def _open(status: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in status["steps"] if s["kind"] == kind and s["state"] == "open"]


def test_submit_accept_parallel_review_decide(ap: Deployment, sink: SmtpSink) -> None:
    app = ap.submit()
    mail = sink.wait_for(1)
    assert len(mail) == 1 and mail[0].recipients == ("wang@example.org",)
    assert f"application {app}" in mail[0].body and mail[0].subject == f"Receipt {app}"
    assert ap.call("POST", f"/applications/{app}/accept", {"by": "clerk"})[1]["state"] == "in_review"
    status = ap.call("GET", f"/applications/{app}")[1]
    assert sorted(s["department"] for s in _open(status, "review")) == sorted(DEPTS)  # all at once
    for i, dept in enumerate(reversed(DEPTS)):  # any order: they run in parallel
        status = ap.call("POST", f"/applications/{app}/reviews/{dept}", {"by": dept, "decision": "approve"})[
            1
        ]
        assert status["state"] == ("final" if i == len(DEPTS) - 1 else "in_review")
    assert (
        ap.call("POST", f"/applications/{app}/reviews/{DEPTS[0]}", {"by": "x", "decision": "approve"})[0]
        == 409
    )
    status = ap.call("POST", f"/applications/{app}/decide", {"by": "director", "decision": "approve"})[1]
    assert status["state"] == "approved" and not _open(status, "final")
    assert ap.call("POST", f"/applications/{app}/decide", {"by": "director", "decision": "reject"})[0] == 409


def test_return_for_correction_and_resubmit(ap: Deployment) -> None:
    app = ap.submit()
    ap.call("POST", f"/applications/{app}/accept", {"by": "clerk"})
    ap.call("POST", f"/applications/{app}/reviews/planning", {"by": "p", "decision": "approve"})
    body = {"by": "e", "decision": "return", "note": "site plan missing"}
    status = ap.call("POST", f"/applications/{app}/reviews/environment", body)[1]
    assert status["state"] == "returned" and "site plan missing" in status["note"]
    assert not _open(status, "review")
    assert ap.call("POST", f"/applications/{app}/decide", {"by": "d", "decision": "approve"})[0] == 409
    status = ap.call("POST", f"/applications/{app}/resubmit", {})[1]
    assert status["state"] == "in_review" and status["round"] == 2 and len(_open(status, "review")) == 3
    assert ap.call("POST", f"/applications/{app}/resubmit", {})[0] == 409


def test_overdue_steps_escalate_level_by_level(ap: Deployment) -> None:
    app = ap.submit()
    ap.clock.advance(LIMITS.accept - 1)
    assert ap.svc.escalate() == []
    ap.clock.advance(2)
    moved = ap.svc.escalate()
    assert [(m["step"], m["level"]) for m in moved] == [("accept", LEVELS[1])]
    assert ap.svc.escalate() == []  # a fresh limit at the new level
    status = ap.call("GET", f"/applications/{app}")[1]
    assert status["steps"][0]["level"] == LEVELS[1] and not status["steps"][0]["overdue"]
    ap.call("POST", f"/applications/{app}/accept", {"by": "chief"})
    ap.call("POST", f"/applications/{app}/reviews/planning", {"by": "p", "decision": "approve"})
    ap.clock.advance(LIMITS.review * 2 + 1)  # two limits passed: two levels at once
    moved = ap.call("POST", "/escalate", {})[1]["escalated"]
    assert sorted((m["department"], m["level"]) for m in moved) == [
        ("environment", LEVELS[2]), ("fire-safety", LEVELS[2])]  # fmt: skip
    ap.clock.advance(LIMITS.review * 10)
    ap.svc.escalate()
    status = ap.call("GET", f"/applications/{app}")[1]
    tops = _open(status, "review")
    assert {s["level"] for s in tops} == {LEVELS[-1]} and all(s["overdue"] for s in tops)
    alerts = ap.call("GET", "/events?kind=alert")[1]["events"]
    assert len(alerts) == 1 + 2 + 2 and {a["action"] for a in alerts} == {"escalate"}


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"),
    [
        ("POST", "/applications", b"{oops", 400),
        ("POST", "/applications", b'"just a string"', 400),
        ("POST", "/applications", b'{"applicant": "a", "email": "a@b", "subject": "s"}', 400),
        (
            "POST",
            "/applications",
            b'{"applicant": "a", "email": "a@b", "subject": "s", "departments": ["x", "y"]}',
            400,
        ),
        (
            "POST",
            "/applications",
            b'{"applicant": "a", "email": "nope", "subject": "s", "departments": []}',
            400,
        ),
        ("GET", "/applications/12345", b"", 404),
        ("GET", "/applications/-1", b"", 404),
        ("POST", "/applications/1/accept", b"{}", 400),
        ("POST", "/applications/1/decide", b'{"by": "d", "decision": "maybe"}', 400),
        ("PUT", "/applications", b"{}", 405),
    ],
)
def test_bad_requests_get_4xx_json(ap: Deployment, method: str, path: str, raw: bytes, status: int) -> None:
    ap.submit()
    got, body = ap.call(method, path, raw=raw)
    assert got == status and body["status"] == status and body["error"], body


def test_unknown_department_and_illegal_accept(ap: Deployment) -> None:
    app = ap.submit()
    assert (
        ap.call("POST", f"/applications/{app}/reviews/planning", {"by": "p", "decision": "approve"})[0] == 409
    )
    ap.call("POST", f"/applications/{app}/accept", {"by": "clerk"})
    assert ap.call("POST", f"/applications/{app}/accept", {"by": "clerk"})[0] == 409
    assert (
        ap.call("POST", f"/applications/{app}/reviews/police", {"by": "p", "decision": "approve"})[0] == 404
    )
    body = {"by": "p", "decision": "return"}
    assert ap.call("POST", f"/applications/{app}/reviews/planning", body)[0] == 400  # a return needs a note


def test_restart_keeps_applications_and_deadlines(ap: Deployment) -> None:
    apps = [ap.submit() for _ in range(3)]
    ap.call("POST", f"/applications/{apps[1]}/accept", {"by": "clerk"})
    before = ap.call("GET", f"/applications/{apps[1]}")[1]
    ap.stop()
    ap.start()
    assert ap.call("GET", f"/applications/{apps[1]}")[1] == before
    assert [ap.call("GET", f"/applications/{a}")[1]["state"] for a in apps] == [
        "submitted",
        "in_review",
        "submitted",
    ]
    ap.clock.advance(LIMITS.review + 1)
    assert len(ap.svc.escalate()) == 2 + 3  # two acceptances, three reviews


def test_failed_receipt_is_logged_not_fatal(tmp_path: Path) -> None:
    dead = SmtpSink()
    port = dead.server_address[1]
    dead.server_close()  # nothing listens there now
    svc = ApprovalService(tmp_path / "a.db", ManualClock(), LIMITS, Mailer("127.0.0.1", port))
    body = {"applicant": "a", "email": "a@example.org", "subject": "s", "departments": DEPTS}
    status, _ = svc.app.dispatch("POST", "/applications", {}, json.dumps(body).encode())
    assert status == 201
    receipts = [e for e in svc.audit.events("op") if e["action"] == "receipt"]
    assert len(receipts) == 1 and receipts[0]["detail"]["sent"] is False
    svc.close()


def test_sink_keeps_lines_and_undoes_dot_stuffing(sink: SmtpSink) -> None:
    send_mail("127.0.0.1", sink.server_address[1], "a@x", "b@y", "hi", "line one\n.leading dot\n")
    mail = sink.wait_for(1)
    assert mail[0].body == "line one\n.leading dot\n" and mail[0].sender == "a@x"


def test_department_names_with_spaces_are_url_decoded(ap: Deployment) -> None:
    app = ap.submit(["fire safety", "planning", "environment"])
    ap.call("POST", f"/applications/{app}/accept", {"by": "clerk"})
    status, body = ap.call(
        "POST", f"/applications/{app}/reviews/fire%20safety", {"by": "f", "decision": "approve"}
    )
    assert status == 200 and [s["department"] for s in _open(body, "review")] == ["environment", "planning"]


def test_work_queues_by_state_and_department(ap: Deployment) -> None:
    first, second = ap.submit(), ap.submit()
    assert [a["id"] for a in ap.call("GET", "/applications?state=submitted")[1]["applications"]] == [
        first,
        second,
    ]
    ap.call("POST", f"/applications/{first}/accept", {"by": "clerk"})
    queue = ap.call("GET", f"/applications?department={DEPTS[0]}")[1]["applications"]
    assert [a["id"] for a in queue] == [first]
    ap.call("POST", f"/applications/{first}/reviews/{DEPTS[0]}", {"by": "x", "decision": "approve"})
    assert ap.call("GET", f"/applications?department={DEPTS[0]}")[1]["applications"] == []
    assert len(ap.call("GET", f"/applications?department={DEPTS[1]}")[1]["applications"]) == 1
    assert ap.call("GET", "/applications?state=nonsense")[0] == 400
    assert ap.call("GET", "/applications?limit=0")[0] == 400
    assert len(ap.call("GET", "/applications?limit=1")[1]["applications"]) == 1
