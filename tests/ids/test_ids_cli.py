"""`govnet ids ...` through the real entry point: tables, EVE JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ids_craft import ATTACKER, PORTAL, get, syn, timed, write

# what the `govnet` script runs (cli.main:main), whatever the venv's path
GOVNET = [sys.executable, "-m", "cli"]


def govnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GOVNET, *args], capture_output=True, text=True, timeout=60, check=False)


def _no_traceback(r: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in r.stderr
    assert r.stderr.count("\n") <= 1 and r.stderr.startswith("govnet: ")


def _attack_pcap(tmp: Path) -> Path:
    pkts = [syn(ATTACKER, PORTAL, p) for p in range(1000, 1030)] + [get("/a/../../etc/passwd")]
    return write(tmp, "attack.pcap", timed(pkts))


def test_scan_table_json_events_and_exit_codes(tmp_path: Path) -> None:
    pcap = _attack_pcap(tmp_path)
    r = govnet("ids", "scan", str(pcap))
    assert r.returncode == 0, r.stderr
    assert "GOVNET SCAN TCP port scan" in r.stdout and "GOVNET WEB path traversal" in r.stdout
    assert "31 frames" in r.stdout and "3 alerts" in r.stdout
    r = govnet("ids", "scan", str(pcap), "--json", "--events", str(tmp_path / "ev.json"))
    recs = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["alert"]["signature_id"] for x in recs] == [9000001, 1000001, 1000004]
    assert (tmp_path / "ev.json").read_text().count("\n") == 3
    assert govnet("ids", "scan", str(pcap), "--fail-on-alert").returncode == 1
    r = govnet("ids", "scan", str(pcap), "--no-detectors", "--set", "portscan_ports=5")
    assert r.returncode == 0 and "port scan" not in r.stdout


def test_scan_user_mistakes_are_one_line(tmp_path: Path) -> None:
    r = govnet("ids", "scan", str(tmp_path / "missing.pcap"))
    assert r.returncode == 2 and "missing.pcap: cannot open capture" in r.stderr
    _no_traceback(r)
    (tmp_path / "notes.txt").write_text("hello")
    r = govnet("ids", "scan", str(tmp_path / "notes.txt"))
    assert r.returncode == 2 and "not a pcap or pcapng file" in r.stderr
    _no_traceback(r)
    bad = tmp_path / "bad.rules"
    bad.write_text(
        'alert tcp any any -> any any (msg:"ok"; sid:1;)\n'
        "alert tcp any any -> any any (sid:2; flags:S; bogus:1;)\n"
    )
    pcap = _attack_pcap(tmp_path)
    r = govnet("ids", "scan", str(pcap), "--rules", str(bad))
    assert r.returncode == 2 and f"{bad}:2: bogus: unsupported keyword" in r.stderr
    _no_traceback(r)
    r = govnet("ids", "scan", str(pcap), "--set", "portscan_ports=many")
    assert r.returncode == 2 and "bad value" in r.stderr
    _no_traceback(r)
    r = govnet("ids", "scan", str(pcap), "--set", "nonsense=1")
    assert r.returncode == 2 and "unknown detector setting 'nonsense'" in r.stderr
    # non-positive and non-integer thresholds were accepted (issue 15): -5 alerted on every SYN
    for setting, hint in [
        ("portscan_ports=-5", "use a whole number > 0, e.g. portscan_ports=20"),
        ("portscan_ports=0", "use a whole number > 0"),
        ("portscan_ports=2.5", "use a whole number > 0"),
        ("sweep_window=-1", "use seconds > 0, e.g. sweep_window=10"),
        ("sweep_window=nan", "use seconds > 0"),
        ("ssh_ports=22,0", "use ports 1..65535"),
        ("block_seconds=-1", "use a whole number >= 0 (0: alert only)"),
        ("web_login_paths=login", "use URL paths"),
    ]:
        r = govnet("ids", "scan", str(pcap), "--set", setting)
        name, _, value = setting.partition("=")
        assert r.returncode == 2, setting
        assert r.stderr.startswith(f"govnet: detector setting {name}: bad value {value!r}: {hint}"), r.stderr
        _no_traceback(r)
    r = govnet("ids", "scan", str(pcap), "--set", "block_seconds=0", "--set", "sweep_window=2.5")
    assert r.returncode == 0, r.stderr


def test_rules_check(tmp_path: Path) -> None:
    r = govnet("ids", "rules", "check")
    assert r.returncode == 0 and "rules valid" in r.stdout
    bad = tmp_path / "x.rules"
    bad.write_text("\n\nalert tcp any any -> any any (flags:Z; sid:3;)\n")
    r = govnet("ids", "rules", "check", str(bad))
    assert r.returncode == 2 and r.stderr.startswith(f"govnet: {bad}:3: flags: unknown TCP flag 'Z'")
    _no_traceback(r)


def test_hids_baseline_and_check(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    root.mkdir()
    (root / "index.html").write_text("hello")
    (root / "app.py").write_text("print(1)")
    db = tmp_path / "hids.json"
    r = govnet("ids", "hids", "baseline", "--paths", str(root), "--db", str(db))
    assert r.returncode == 0 and "baseline of 3 paths (2 files)" in r.stdout
    assert govnet("ids", "hids", "check", "--db", str(db), "--fail-on-change").returncode == 0
    (root / "index.html").write_text("defaced")
    os.chmod(root / "app.py", 0o777)
    r = govnet("ids", "hids", "check", "--db", str(db))
    assert r.returncode == 0 and "2 changed" in r.stdout
    assert "modified" in r.stdout and "permission-changed" in r.stdout
    r = govnet("ids", "hids", "check", "--db", str(db), "--json", "--update", "--fail-on-change")
    assert r.returncode == 1
    assert sorted(json.loads(x)["hids"]["changes"][0] for x in r.stdout.splitlines()) == [
        "modified",
        "permission-changed",
    ]
    assert govnet("ids", "hids", "check", "--db", str(db), "--fail-on-change").returncode == 0  # accepted
    r = govnet("ids", "hids", "check", "--db", str(tmp_path / "none.json"))
    assert r.returncode == 2 and "no baseline; create one" in r.stderr
    _no_traceback(r)
    r = govnet("ids", "hids", "baseline", "--paths", str(tmp_path / "nope"), "--db", str(db))
    assert r.returncode == 2 and "no such file or directory" in r.stderr


def test_every_ids_verb_has_help_with_an_example() -> None:
    for verb in (["scan"], ["rules", "check"], ["hids", "baseline"], ["hids", "check"]):
        r = govnet("ids", *verb, "--help")
        assert r.returncode == 0 and "example" in r.stdout, verb


def test_sensor_refuses_bad_settings_before_capturing() -> None:
    from ids.nids.sensor import main

    assert main(["--iface", "lo", "--set", "portscan_ports=-5"]) == 2
    assert main(["--iface", "lo", "--set", "portscan_ports"]) == 2
    assert main(["--iface", "lo", "--pcre-match-limit", "0"]) == 2
