"""The client's address on every login event of the OA and approval services (for the login audit)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from apps.accounts import MAX_FAILURES
from apps.approval import ApprovalService
from apps.clock import ManualClock
from apps.oa import OAService
from apps.web import client_address, parse_networks, serve_in_thread
from ids.audit.parse import parse_file

PROXY = parse_networks(["10.0.9.0/24", "127.0.0.1"])


@pytest.mark.parametrize(
    ("peer", "xff", "want"),
    [
        ("10.4.0.21", "", "10.4.0.21"),  # no proxy: the peer
        ("10.4.0.21", "203.0.113.5", "10.4.0.21"),  # an untrusted peer cannot name its source
        ("10.0.9.2", "10.4.0.21", "10.4.0.21"),  # behind a trusted proxy: the forwarded client
        ("10.0.9.2", "198.51.100.7, 10.4.0.21", "10.4.0.21"),  # a client-sent first hop is not believed
        ("10.0.9.2", "10.4.0.21, 10.0.9.3", "10.4.0.21"),  # two trusted proxies in a row
        ("10.0.9.2", "10.0.9.3", "10.0.9.3"),  # only proxies: the farthest one
        ("10.0.9.2", "garbage, 10.4.0.21", "10.4.0.21"),
        ("10.0.9.2", "10.4.0.21, garbage", "10.0.9.2"),  # a malformed hop ends the walk
        ("", "10.4.0.21", ""),  # dispatched without a socket
    ],
)
def test_client_address(peer: str, xff: str, want: str) -> None:
    assert client_address(peer, xff, PROXY) == want
    assert client_address(peer, xff, ()) == peer


def test_bad_trusted_proxy_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.9\.0/33'"):
        parse_networks(["10.0.9.0/33"])


def _post(port: int, path: str, body: object, headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers or {})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_every_oa_login_carries_its_source_to_the_audit(tmp_path: Path) -> None:
    svc = OAService(tmp_path / "oa.db", tmp_path / "files", b"k" * 32, ManualClock())
    svc.add_user("alice", "pw-a")
    server = serve_in_thread(svc.app)
    port = server.server_address[1]
    try:
        spoof = {"X-Forwarded-For": "203.0.113.66"}
        assert _post(port, "/login", {"user": "alice", "password": "pw-a"}, spoof)[0] == 200
        assert _post(port, "/login", {"user": "nobody", "password": "x"})[0] == 401
        for _ in range(MAX_FAILURES):
            assert _post(port, "/login", {"user": "alice", "password": "bad"})[0] == 401
        assert _post(port, "/login", {"user": "alice", "password": "pw-a"})[0] == 403
        svc.app.trusted_proxies = parse_networks(["127.0.0.1"])  # now a local reverse proxy fronts it
        fwd = {"X-Forwarded-For": "203.0.113.66, 10.4.0.21"}
        assert _post(port, "/login", {"user": "bob", "password": "x"}, fwd)[0] == 401
    finally:
        server.shutdown()
        server.server_close()
        svc.close()
    events = parse_file(tmp_path / "oa.db", "app")  # what `govnet audit parse --kind app oa.db` reads
    got = [(e.user, e.reason, e.host) for e in events]
    assert got == [
        ("alice", "accepted-password", "127.0.0.1"),  # the spoofed header from a non-proxy is ignored
        ("nobody", "invalid-user", "127.0.0.1"),
        *[("alice", "failed-password", "127.0.0.1")] * MAX_FAILURES,
        ("alice", "locked", "127.0.0.1"),
        ("bob", "invalid-user", "10.4.0.21"),
    ]


def test_approval_staff_logins_carry_their_source(tmp_path: Path) -> None:
    svc = ApprovalService(tmp_path / "ap.db", ManualClock())
    svc.accounts.add_user("officer1", "pw-o")
    server = serve_in_thread(svc.app)
    port = server.server_address[1]
    try:
        assert _post(port, "/login", {"user": "officer1", "password": "typo"})[0] == 401
        status, body = _post(port, "/login", {"user": "officer1", "password": "pw-o"})
        assert status == 200 and body["token"]
    finally:
        server.shutdown()
        server.server_close()
        svc.close()
    again = ApprovalService(tmp_path / "ap.db", ManualClock())
    logins = again.audit.events("login")
    again.close()
    assert [(e["detail"]["result"], e["detail"]["source"]) for e in logins] == [
        ("failure", "127.0.0.1"),
        ("success", "127.0.0.1"),
    ]
    events = list(parse_file(tmp_path / "ap.db", "app"))
    assert [(e.service, e.result, e.host) for e in events] == [
        ("approval", "failure", "127.0.0.1"),
        ("approval", "success", "127.0.0.1"),
    ]
