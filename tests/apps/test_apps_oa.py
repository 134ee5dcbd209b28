"""The OA service over real HTTP on 127.0.0.1: document flow, recall, sealing, logins, restarts."""

from __future__ import annotations

import base64
import http.client
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.clock import ManualClock
from apps.oa import HOLDER, MAX_FAILURES, TRANSITIONS, OAService, load_key
from apps.web import serve_in_thread
from govnet.metrics import validate

USERS = ("alice", "bob", "carol", "dave", "erin")  # author, reviewer, countersigner, signer, recipient
ROLE = dict(zip(("author", "reviewer", "countersigner", "signer", "recipient"), USERS, strict=True))


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.tokens: dict[str, str] = {}

    def raw(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def call(self, method: str, path: str, body: object = None, user: str = "") -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        data = json.dumps(body).encode() if body is not None else b""
        return self.raw(method, path, data, headers)

    def login(self, user: str, password: str = "") -> Any:
        status, body = self.call("POST", "/login", {"user": user, "password": password or f"pw-{user}"})
        if status == 200:
            self.tokens[user] = body["token"]
        return status, body


class Deployment:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = ManualClock()
        self.key = load_key(tmp / "oa.key")
        self.svc: OAService | None = None
        self.start()

    def start(self) -> None:
        self.svc = OAService(self.tmp / "oa.db", self.tmp / "files", self.key, self.clock)
        for u in USERS:
            self.svc.add_user(u, f"pw-{u}")
        self.server = serve_in_thread(self.svc.app)
        self.client = Client(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        assert self.svc is not None
        self.svc.close()


@pytest.fixture
def oa(tmp_path: Path) -> Iterator[Deployment]:
    dep = Deployment(tmp_path)
    for u in USERS:
        assert dep.client.login(u)[0] == 200
    yield dep
    dep.stop()


def _new_doc(c: Client, content: str = "Budget 2027, draft 1") -> int:
    status, body = c.call("POST", "/documents", {"title": "Budget", "content": content, **{
        r: u for r, u in ROLE.items() if r != "author"}}, "alice")  # fmt: skip
    assert status == 201, body
    assert body["state"] == "draft" and body["holder"] == "alice"
    return int(body["id"])


def _act(c: Client, doc: int, action: str, user: str, **extra: str) -> Any:
    return c.call("POST", f"/documents/{doc}/{action}", extra, user)


PATH = [("submit", "author"), ("review", "reviewer"), ("countersign", "countersigner"), ("sign", "signer"),
        ("seal", "author"), ("send", "author"), ("receive", "recipient"), ("route", "recipient"),
        ("archive", "recipient")]  # fmt: skip


def _walk(c: Client, doc: int, upto: str) -> None:
    for action, role in PATH:
        if action == upto:
            return
        extra = {"instructions": "handle by Friday"} if action == "route" else {}
        status, body = _act(c, doc, action, ROLE[role], **extra)
        assert status == 200, body


def test_full_flow_and_todo_lists(oa: Deployment) -> None:
    c = oa.client
    doc = _new_doc(c)
    for action, role in PATH:
        todo = c.call("GET", "/todo", None, ROLE[role])[1]["todo"]
        assert [d["id"] for d in todo] == [doc], (action, todo)
        for other in set(USERS) - {ROLE[role]}:
            assert c.call("GET", "/todo", None, other)[1]["todo"] == []
        extra = {"instructions": "to the finance section"} if action == "route" else {}
        status, body = _act(c, doc, action, ROLE[role], **extra)
        assert status == 200, body
        assert body["state"] == TRANSITIONS[action][1]
    assert body["state"] == "archived" and body["instructions"] == "to the finance section"
    ops = [e["action"] for e in c.call("GET", "/events?kind=op", None, "alice")[1]["events"]]
    assert ops[0] == "create" and [a for a, _ in PATH] == [o for o in ops if o in TRANSITIONS]


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_illegal_transitions_are_409(oa: Deployment, action: str) -> None:
    c = oa.client
    legal_from, _ = TRANSITIONS[action]
    checked = 0
    for state_action, _role in [*PATH, ("end", "")]:
        doc = _new_doc(c)
        _walk(c, doc, state_action)
        state = c.call("GET", f"/documents/{doc}", None, "alice")[1]["state"]
        if state in legal_from:
            continue
        holder = ROLE.get(HOLDER.get(state, ""), "alice")
        status, body = _act(c, doc, action, holder, instructions="x")
        assert status == 409, (action, state, body)
        assert action in body["error"] and state in body["error"]
        checked += 1
    assert checked >= 5


def test_return_to_draft_and_wrong_holder(oa: Deployment) -> None:
    c = oa.client
    doc = _new_doc(c)
    _walk(c, doc, "countersign")
    assert _act(c, doc, "countersign", "bob")[0] == 403  # with carol, not bob
    status, body = _act(c, doc, "return", "carol")
    assert status == 200 and body["state"] == "draft" and body["holder"] == "alice"
    assert c.call("PUT", f"/documents/{doc}", {"content": "draft 2"}, "alice")[1]["content"] == "draft 2"
    _walk(c, doc, "seal")
    assert c.call("PUT", f"/documents/{doc}", {"content": "late"}, "alice")[0] == 409


def test_recall_before_read_and_after_read(oa: Deployment) -> None:
    c = oa.client
    unread, read = _new_doc(c), _new_doc(c)
    for doc in (unread, read):
        _walk(c, doc, "receive")
    assert _act(c, unread, "recall", "erin")[0] == 403  # only the author recalls
    status, body = _act(c, unread, "recall", "alice")
    assert status == 200 and body["state"] == "recalled"
    assert c.call("GET", f"/documents/{read}", None, "erin")[1]["read_at"] is not None
    status, body = _act(c, read, "recall", "alice")
    assert status == 409 and "already read" in body["error"]
    assert _act(c, read, "receive", "erin")[0] == 200


def test_tampered_document_is_refused_with_an_alert(oa: Deployment) -> None:
    c = oa.client
    good, bad, bad_file = _new_doc(c), _new_doc(c, "pay 100"), _new_doc(c)
    blob = base64.b64encode(b"annex " * 1000).decode()
    assert c.call("POST", f"/documents/{bad_file}/attachments", {"name": "annex.txt", "data_b64": blob},
                  "alice")[0] == 201  # fmt: skip
    for doc in (good, bad, bad_file):
        _walk(c, doc, "receive")
    db = sqlite3.connect(oa.tmp / "oa.db")
    db.execute("UPDATE documents SET content = 'pay 100000' WHERE id = ?", (bad,))
    db.commit()
    db.close()
    digest = c.call("GET", f"/documents/{bad_file}", None, "alice")[1]["attachments"][0]["sha256"]
    (oa.tmp / "files" / str(bad_file) / digest).write_bytes(b"forged")
    assert _act(c, good, "receive", "erin")[0] == 200
    for doc, why in ((bad, "changed after sealing"), (bad_file, "attachment 'annex.txt'")):
        status, body = _act(c, doc, "receive", "erin")
        assert status == 422 and why in body["error"] and body["alert"] == "tamper", body
        assert c.call("GET", f"/documents/{doc}", None, "erin")[1]["state"] == "sent"
    alerts = c.call("GET", "/events?kind=alert", None, "alice")[1]["events"]
    assert sorted(int(a["target"]) for a in alerts) == [bad, bad_file]


def test_logins_are_audited_and_locked_out(oa: Deployment) -> None:
    c = oa.client
    assert c.login("bob", "wrong")[0] == 401
    assert c.login("nobody", "x")[0] == 401
    for _ in range(MAX_FAILURES):
        c.login("carol", "wrong")
    assert c.login("carol")[0] == 403  # locked, even with the right password
    events = c.call("GET", "/events?kind=login", None, "alice")[1]["events"]
    results = [(e["user"], e["detail"]["result"]) for e in events]
    assert results[:5] == [(u, "success") for u in USERS]
    assert (
        ("bob", "failure") in results
        and ("nobody", "failure") in results
        and results[-1] == ("carol", "locked")
    )
    assert oa.svc is not None
    points = {
        p.tags["result"]: p.fields["attempts"] for p in oa.svc.audit.points() if p.measurement == "login"
    }
    assert points == {"success": 5, "failure": 2 + MAX_FAILURES, "locked": 1}
    app_points = [validate(p) for p in oa.svc.audit.points() if p.measurement == "app"]
    assert {p.tags["op"] for p in app_points} >= {"login", "events"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/login", b"{not json", 400),
        ("POST", "/login", b"[1, 2]", 400),
        ("POST", "/login", b'{"user": "alice"}', 400),
        ("POST", "/login", b'{"user": 7, "password": "x"}', 400),
        ("POST", "/documents", b'{"title": "t"}', 400),
        ("GET", "/documents/999", b"", 404),
        ("GET", "/documents/abc", b"", 404),
        ("GET", "/documents/99999999999999999999999", b"", 404),
        ("GET", "/documents/%C2%B2", b"", 404),
        ("POST", "/documents/1/fly", b"{}", 404),
        ("DELETE", "/documents/1", b"", 405),
        ("GET", "/nowhere", b"", 404),
        (
            "POST",
            "/documents",
            b'{"title": "t", "content": "c", "reviewer": "zed", "countersigner": "bob",'
            b' "signer": "bob", "recipient": "bob"}',
            422,
        ),
        ("GET", "/todo", b"\xff\xfe", 200),
    ],
)
def test_bad_requests_get_4xx_json(oa: Deployment, method: str, path: str, body: bytes, status: int) -> None:
    headers = {"Authorization": f"Bearer {oa.client.tokens['alice']}"}
    got, answer = oa.client.raw(method, path, body, headers)
    assert got == status, answer
    if status >= 400:
        assert answer["error"] and answer["status"] == status


def test_bad_attachment_and_no_token(oa: Deployment) -> None:
    c = oa.client
    doc = _new_doc(c)
    assert c.call("POST", f"/documents/{doc}/attachments", {"name": "a", "data_b64": "!!"}, "alice")[0] == 400
    assert (
        c.call("POST", f"/documents/{doc}/attachments", {"name": "../x", "data_b64": ""}, "alice")[0] == 400
    )
    assert c.raw("GET", "/todo")[0] == 401
    assert c.raw("GET", "/todo", headers={"Authorization": "Bearer forged"})[0] == 401


def test_restart_keeps_documents_and_sessions(oa: Deployment) -> None:
    c = oa.client
    docs = [_new_doc(c, f"doc {i}") for i in range(3)]
    _walk(c, docs[0], "send")
    token = c.tokens["alice"]
    oa.stop()
    oa.start()
    c = oa.client
    c.tokens["alice"] = token
    for i, doc in enumerate(docs):
        status, body = c.call("GET", f"/documents/{doc}", None, "alice")
        assert status == 200 and body["content"] == f"doc {i}"
    assert c.call("GET", f"/documents/{docs[0]}", None, "alice")[1]["state"] == "sealed"
    assert _act(c, docs[0], "send", "alice")[0] == 200  # the seal survives the restart too
    c.login("erin")
    assert _act(c, docs[0], "receive", "erin")[0] == 200


def test_key_file_is_private_and_reused(tmp_path: Path) -> None:
    key = load_key(tmp_path / "k")
    assert load_key(tmp_path / "k") == key and len(key) == 32
    assert (tmp_path / "k").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("module", ["apps.oa", "apps.approval"])
def test_module_entry_points_serve_and_stop_cleanly_on_sigterm(tmp_path: Path, module: str) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tmp_path / "svc.db"
    cmd = [sys.executable, "-m", module, "--db", str(db), "--port", str(port), "--bind", "127.0.0.1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert f"serving on http://127.0.0.1:{port}" in proc.stdout.readline()
        assert Client(port).raw("GET", "/health") == (200, {"ok": True})
    finally:
        proc.terminate()
        code = proc.wait(timeout=10)
    assert code == 0 and db.exists() and not Path(f"{db}-wal").exists()  # closed, WAL checkpointed
