"""The shipped content rules on crafted HTTP requests to the portal: attacks alert, normal use does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from ids_craft import get, post, scan, sids, timed

TRAVERSAL = [
    ("/files/../../etc/shadow", {1000001}),
    ("/files/..%2f..%2fwin.ini", {1000001}),
    ("/files/%2e%2e/%2e%2e/boot.ini", {1000001, 1000003}),
    ("/files/%2E%2E%2Fsecret", {1000001, 1000003}),
    ("/files/..%5c..%5cwin.ini", {1000002}),
    ("/download?f=/etc/passwd", {1000004}),
]
SQLI_URI = [
    ("/applications?id=1'%20OR%201=1--", {1000011}),
    ("/applications?id=1'+or+'7'='7", set()),  # '+' is not decoded to a space: documented limit
    ("/applications?id=x' or '1'='1", {1000011}),
    ("/applications?id=-1%20UNION%20SELECT%20name,password%20FROM%20users", {1000013}),
    ("/applications?id=-1+union+all+select+1,2", {1000013}),
    ("/applications?id=1/**/UNION/**/SELECT/**/2,3", {1000013}),
    ("/applications?id=1;DROP%20TABLE%20users", {1000015}),
]
BENIGN = [
    "/applications/17",
    "/health",
    "/documents?title=Union%20of%20bureaus%20selected",
    "/static/app.js?v=1.2.3",
    "/applications?subject=shop+licence&or=1",
]


@pytest.mark.parametrize(("uri", "expected"), TRAVERSAL + SQLI_URI)
def test_attack_uris_alert(tmp_path: Path, uri: str, expected: set[int]) -> None:
    res = scan(tmp_path, timed([get(uri)]), enabled=frozenset())
    assert set(sids(res)) == expected
    if expected:
        a = res.alerts[0]
        assert a["app_proto"] == "http" and a["http"]["url"] == uri and a["http"]["http_method"] == "GET"
        assert a["alert"]["category"] == "Web Application Attack" and a["alert"]["severity"] == 1
        # one block request per source while its block runs, however many rules matched
        assert [(b.src_ip, b.seconds) for b in res.blocks] == [("203.0.113.66", 600)]
        assert all(x["govnet"]["block_seconds"] == 600 for x in res.alerts)


def test_benign_requests_do_not_alert(tmp_path: Path) -> None:
    pkts = [get(u, src="10.20.0.7") for u in BENIGN]
    pkts += [
        post("/applications", '{"applicant": "Wang Fang", "subject": "O\'Brien union select committee"}')
    ]
    assert sids(scan(tmp_path, timed(pkts), enabled=frozenset())) == []


def test_sqli_in_form_body(tmp_path: Path) -> None:
    pkts = [
        post("/login", "user=admin' OR 1=1 --&password=x", dport=8080),
        post("/applications", "subject=x' UNION SELECT token FROM sessions--", dport=8081),
    ]
    assert sids(scan(tmp_path, timed(pkts), enabled=frozenset())) == [1000012, 1000014]


def test_attacks_on_non_http_ports_are_not_http(tmp_path: Path) -> None:
    # the http protocol means TCP to $HTTP_PORTS: the same bytes to port 5432 are not inspected as HTTP
    assert sids(scan(tmp_path, timed([get("/../../etc/passwd", dport=5432)]), enabled=frozenset())) == []


def test_nmap_user_agent_limit(tmp_path: Path) -> None:
    from ids_craft import ATTACKER, PORTAL, http

    req = b"GET / HTTP/1.1\r\nHost: p\r\nUser-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine)\r\n\r\n"
    pkts = [http(ATTACKER, PORTAL, req, sport=30000 + i) for i in range(5)]
    assert sids(scan(tmp_path, timed(pkts), enabled=frozenset())) == [1000034]  # threshold limit 1 / 60 s
