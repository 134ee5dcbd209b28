"""The lab attack kit: explicit lab targets, reproducible commands, and packets the sensors detect."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from ids_craft import scan, sids, timed
from scapy.all import Ether

from ids.attacks import (
    AttackError,
    AttackResult,
    check_target,
    hping3_syn_flood,
    hydra_ssh,
    hydra_web,
    nmap_scan,
    scan_packets,
    scapy_scan,
    scapy_web,
    web_packets,
    web_requests,
    wordlist,
)

PORTAL = "10.50.0.10"
ATTACKER = "198.18.0.66"


def test_targets_must_be_lab_addresses() -> None:
    assert check_target("10.50.0.10") == "10.50.0.10"
    assert check_target("198.18.1.2") == "198.18.1.2"  # the emulated internet
    assert check_target("::1") == "::1"
    for bad, why in (
        ("portal.example", "not 'portal.example'"),
        ("8.8.8.8", "public address"),
        ("0.0.0.0", "not a single host"),
        ("224.0.0.1", "not a single host"),
    ):
        with pytest.raises(AttackError, match=why):
            check_target(bad)
    assert check_target("8.8.8.8", allow_public=True) == "8.8.8.8"
    with pytest.raises(AttackError):
        hydra_ssh("1.1.1.1", "/tmp/x", ["alice"])
    with pytest.raises(AttackError):
        nmap_scan("example.org")


def test_wordlists_are_seeded() -> None:
    a, b, c = wordlist(30, 1), wordlist(30, 1), wordlist(30, 2)
    assert a == b and a != c and len(a) == 30 and len(set(a)) == 30
    w = wordlist(10, 5, include=[("Right-pass1", 7)])
    assert len(w) == 10 and w[7] == "Right-pass1"
    with pytest.raises(AttackError):
        wordlist(0, 1)


def test_tool_commands(tmp_path: Path) -> None:
    h = hydra_ssh("10.40.0.10", tmp_path / "h", ["alice", "bob"], port=2222, size=12, seed=3)
    argv = list(h.argv)
    assert argv[0] == "hydra" and argv[-1] == "ssh://10.40.0.10"
    assert argv[argv.index("-t") + 1] == "4" and argv[argv.index("-s") + 1] == "2222"
    assert h.command().startswith(f"cd {tmp_path / 'h'} && hydra ")
    h.prepare()
    assert (tmp_path / "h" / "users.txt").read_text() == "alice\nbob\n"
    assert (tmp_path / "h" / "passwords.txt").read_text().split() == wordlist(12, 3)
    assert hydra_ssh("fd00::5", tmp_path, ["a"]).argv[-1] == "ssh://[fd00::5]"

    w = hydra_web("10.50.0.20", tmp_path / "w", ["alice"], service="approval")
    assert list(w.argv[-3:-1]) == ["10.50.0.20", "http-post-form"]
    assert w.argv[w.argv.index("-s") + 1] == "8081"
    assert w.argv[-1].startswith("/login:{") and w.argv[-1].endswith(":S=token")
    assert shlex.split(w.command().split(" && ", 1)[1]) == list(w.argv)
    with pytest.raises(AttackError, match="service"):
        hydra_web("10.50.0.20", tmp_path, ["a"], service="mail")

    assert nmap_scan("10.50.0.10", kind="connect", ports="22,80,8000-8100").argv == (
        "nmap", "-sT", "-Pn", "-n", "-r", "-p", "22,80,8000-8100", "--max-retries", "1", "-T4", "10.50.0.10",
    )  # fmt: skip
    with pytest.raises(AttackError):
        nmap_scan("10.50.0.10", kind="xmas")

    f = hping3_syn_flood("10.50.0.10", 80, count=5000, seed=9)
    assert f.argv[f.argv.index("-c") + 1] == "5000" and "--flood" not in f.argv
    assert f.argv == hping3_syn_flood("10.50.0.10", 80, count=5000, seed=9).argv
    with pytest.raises(AttackError, match="packet count"):
        hping3_syn_flood("10.50.0.10", 80, count=0)

    s = scapy_scan("10.50.0.10", kind="xmas", ports="1-30", seed=4, python="python3")
    assert s.command() == "python3 -m ids.attacks scan --target 10.50.0.10 --kind xmas --ports 1-30 --seed 4"
    assert "--via socket" in scapy_web("10.50.0.10", python="python3").command()


def test_runner_gets_the_shell_command(tmp_path: Path) -> None:
    seen: list[str] = []

    def runner(cmd: str) -> str:
        seen.append(cmd)
        return '[ATTEMPT] target 10.0.0.1 - login "alice" - pass "x1" - 1 of 2 [child 0] (0/0)\n' + (
            "[22][ssh] host: 10.0.0.1   login: alice   password: x2\n"
        )

    res = hydra_ssh("10.0.0.1", tmp_path / "k", ["alice"], size=2).run(runner)
    assert isinstance(res, AttackResult) and res.returncode is None
    assert seen == [res.attack.command()]
    assert res.hydra_attempts() == {"alice": 1} and res.hydra_found() == [("alice", "x2")]


def _frames(packets: list[Any]) -> list[Any]:
    return timed([Ether() / p for p in packets])


def test_scapy_scans_are_detected(tmp_path: Path) -> None:
    syn = scan_packets(PORTAL, "1-40", "syn", seed=1, src=ATTACKER)
    assert [p.dport for p in syn] == [p.dport for p in scan_packets(PORTAL, "1-40", "syn", seed=1)]
    assert sorted(p.dport for p in syn) == list(range(1, 41))
    assert 9000001 in sids(scan(tmp_path, _frames(syn)))  # portscan detector
    for kind, sid in (("null", 1000031), ("xmas", 1000032), ("fin", 1000033)):
        assert sid in sids(scan(tmp_path, _frames(scan_packets(PORTAL, "100-105", kind, 2, src=ATTACKER))))
    udp = scan_packets(PORTAL, "1000-1030", "udp", seed=3, src=ATTACKER)
    assert 9000002 in sids(scan(tmp_path, _frames(udp)))


def test_web_payloads_are_detected(tmp_path: Path) -> None:
    reqs = web_requests(PORTAL, 8081, ["traversal", "sqli"], seed=1)
    assert reqs == web_requests(PORTAL, 8081, ["traversal", "sqli"], seed=1)
    assert reqs != web_requests(PORTAL, 8081, ["traversal", "sqli"], seed=2)
    found = set(sids(scan(tmp_path, _frames(web_packets(PORTAL, 8081, reqs, seed=1, src=ATTACKER)))))
    assert {1000001, 1000002, 1000003, 1000004} <= found  # traversal: ../ ..\ %2e%2e /etc/passwd
    assert {1000011, 1000012, 1000013, 1000015} <= found  # SQLi: tautology URI/body, UNION, DROP TABLE
