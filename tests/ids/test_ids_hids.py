"""HIDS on temporary trees: every kind of change, real-time watch, log tail across rotation, ports, setuid."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from govnet.errors import IdsError
from ids.hids import Baseline, FileMonitor, HostWatch, LogTail, PollingWatcher, Watcher, check, compare, scan
from ids.hids.integrity import Change

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another owner needs root")


def _tree(root: Path) -> None:
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    for i in range(20):
        (root / "etc" / f"f{i}.conf").write_text(f"setting {i}\n")
        os.chmod(root / "etc" / f"f{i}.conf", 0o644)  # a known mode, whatever the umask
    (root / "bin" / "tool").write_bytes(b"\x7fELF" + b"\0" * 100)
    os.chmod(root / "bin" / "tool", 0o755)
    os.symlink("f1.conf", root / "etc" / "link")


def _kinds(changes: list[Change], root: Path) -> dict[str, tuple[str, ...]]:
    return {os.path.relpath(c.path, root): c.kinds for c in changes}


def test_unchanged_tree_has_no_changes(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _tree(root)
    db = tmp_path / "base.json"
    scan([root]).save(db)
    _now, changes = check(db)
    assert changes == []
    os.utime(root / "etc" / "f3.conf", (1, 1))  # mtime alone is not a change
    assert check(db)[1] == []


@needs_root
def test_every_kind_of_change(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _tree(root)
    db = tmp_path / "base.json"
    base = scan([root])
    base.save(db)
    (root / "etc" / "new.conf").write_text("x")  # added
    os.remove(root / "etc" / "f0.conf")  # removed
    (root / "etc" / "f2.conf").write_text("setting 2 tampered\n")  # modified
    with open(root / "etc" / "f3.conf", "r+b") as fh:  # same size, other bytes, mtime restored
        fh.write(b"X")
    st = os.stat(root / "etc" / "f3.conf")
    os.chmod(root / "etc" / "f4.conf", 0o600)  # permission-changed
    os.chown(root / "etc" / "f5.conf", 1234, 5678)  # owner-changed
    os.chmod(root / "bin" / "tool", 0o4755)  # setuid
    os.remove(root / "etc" / "link")
    os.symlink("f9.conf", root / "etc" / "link")  # link target
    os.rename(root / "etc" / "f6.conf", tmp_path / "moved")  # replaced with same content
    (root / "etc" / "f6.conf").write_text("setting 6\n")
    (root / "etc" / "sub").mkdir()
    (root / "etc" / "sub" / "su2").write_bytes(b"#!")
    os.chmod(root / "etc" / "sub" / "su2", 0o2755)  # a new setgid file
    os.utime(
        root / "etc" / "f3.conf", ns=(st.st_atime_ns, base.entries[str(root / "etc" / "f3.conf")].mtime_ns)
    )
    _now, changes = check(db)
    assert _kinds(changes, root) == {
        "etc/new.conf": ("added",),
        "etc/f0.conf": ("removed",),
        "etc/f2.conf": ("modified",),
        "etc/f3.conf": ("modified",),
        "etc/f4.conf": ("permission-changed",),
        "etc/f5.conf": ("owner-changed",),
        "bin/tool": ("permission-changed", "setuid-added"),
        "etc/link": ("modified",),
        "etc/f6.conf": ("replaced",),
        "etc/sub": ("added",),
        "etc/sub/su2": ("added", "setuid-added"),
    }
    # directories whose listing changed (size/mtime only) are not reported: their entries are


def test_trust_ctime_still_sees_content_changes(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _tree(root)
    db = tmp_path / "b.json"
    scan([root]).save(db)
    (root / "etc" / "f2.conf").write_text("setting 2 tampered\n")
    _now, changes = check(db, trust_ctime=True)
    assert _kinds(changes, root) == {"etc/f2.conf": ("modified",)}


def test_baseline_errors(tmp_path: Path) -> None:
    with pytest.raises(IdsError, match="no baseline; create one"):
        Baseline.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(IdsError, match="not a govnet HIDS baseline"):
        Baseline.load(tmp_path / "bad.json")
    with pytest.raises(IdsError, match="no such file or directory"):
        scan([tmp_path / "missing"])


def test_removed_root_reports_everything_removed(tmp_path: Path) -> None:
    root = tmp_path / "t"
    _tree(root)
    db = tmp_path / "b.json"
    scan([root]).save(db)
    import shutil

    shutil.rmtree(root)
    _now, changes = check(db)
    assert {c.kinds for c in changes} == {("removed",)} and len(
        changes
    ) == 25  # root, 2 dirs, 20 confs, tool, link


@pytest.mark.parametrize("polling", [False, True])
def test_real_time_watch(tmp_path: Path, polling: bool) -> None:
    root = tmp_path / "w"
    _tree(root)
    seen: list[Change] = []
    mon = FileMonitor(scan([root]), seen.append, polling=polling)
    assert isinstance(mon.watcher, PollingWatcher if polling else Watcher)
    try:
        t0 = time.perf_counter()
        (root / "etc" / "f1.conf").write_text("evil\n")
        os.chmod(root / "etc" / "f7.conf", 0o666)
        (root / "etc" / "dropper").write_text("x")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len({c.path for c in seen}) < 3:
            mon.poll(0.05)
        latency = time.perf_counter() - t0
    finally:
        mon.close()
    assert _kinds(seen, root) == {
        "etc/f1.conf": ("modified",),
        "etc/f7.conf": ("permission-changed",),
        "etc/dropper": ("added",),
    }
    assert latency < 2.0


def test_inotify_follows_new_directories(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    events: list[tuple[str, str]] = []
    w = Watcher([root], lambda p, k: events.append((p, k)))
    try:
        (root / "d").mkdir()
        w.poll(0.5)
        (root / "d" / "f").write_text("x")
        for _ in range(10):
            w.poll(0.1)
    finally:
        w.close()
    assert (str(root / "d" / "f"), "created") in events


def test_log_tail_rotation_truncation_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("old line before start\n")
    lines: list[str] = []
    tail = LogTail(log, lines.append)
    assert tail.poll() == 0  # starts at the end, like tail -F
    with open(log, "a") as fh:
        fh.write("sshd[1]: Failed password for root from 203.0.113.5\nsshd[2]: partial")
    tail.poll()
    assert lines == ["sshd[1]: Failed password for root from 203.0.113.5"]
    with open(log, "a") as fh:
        fh.write(" line done\nlast before rotate\n")
    os.rename(log, tmp_path / "auth.log.1")  # logrotate: move, then create
    with open(tmp_path / "auth.log.1", "a") as fh:
        fh.write("written to the old file after the move\n")
    assert tail.poll() == 3  # the old file is drained; the new one does not exist yet
    log.write_text("first in new file\n")
    tail.poll()
    log.write_text("")  # copytruncate
    tail.poll()
    with open(log, "a") as fh:
        fh.write("after truncate\n")
    tail.poll()
    tail.close()
    assert lines[1:] == [
        "sshd[2]: partial line done",
        "last before rotate",
        "written to the old file after the move",
        "first in new file",
        "after truncate",
    ]
    assert tail.rotations == 1


def test_log_tail_pattern_and_thread(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    got: list[str] = []
    tail = LogTail(log, got.append, pattern=r"Failed password")
    stop = threading.Event()
    th = threading.Thread(target=tail.run, args=(stop, 0.02))
    th.start()
    with open(log, "a") as fh:
        fh.write("Accepted publickey for bob\nFailed password for alice\n")
    deadline = time.monotonic() + 3
    while not got and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    th.join()
    tail.close()
    assert got == ["Failed password for alice"]


def test_new_listening_port_and_setuid_file(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    hw = HostWatch([tmp_path / "bin"], sensor="hids-test")
    assert hw.check() == []
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    (tmp_path / "bin" / "sh").write_bytes(b"x")
    os.chmod(tmp_path / "bin" / "sh", 0o4755)
    try:
        alerts = hw.check()
    finally:
        srv.close()
    sigs = sorted(a["alert"]["signature"] for a in alerts)
    assert any(f"tcp/{port}" in s for s in sigs), sigs
    assert any(str(tmp_path / "bin" / "sh") in s for s in sigs)
    assert hw.check() == []  # reported once


def test_declared_service_ports_are_not_new_listeners() -> None:
    from ids.hids.procs import parse_port

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    udp.close()
    hw = HostWatch(sensor="hids-test", expected_ports=[f"udp/{port}"])
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))  # the declared port: no alert
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))  # any other: an alert
    try:
        sigs = [a["alert"]["signature"] for a in hw.check()]
    finally:
        udp.close()
        other.close()
    assert not any(f"udp/{port} " in s for s in sigs) and any("udp/" in s for s in sigs), sigs
    assert parse_port("tcp/80") == ("tcp", 80)
    for bad in ("80", "icmp/1", "tcp/0", "tcp/x"):
        with pytest.raises(ValueError, match="tcp/PORT or udp/PORT"):
            parse_port(bad)


def test_agent_reports_files_logs_and_ports(tmp_path: Path) -> None:
    from govnet import events
    from ids.hids.agent import HidsAgent

    root = tmp_path / "srv"
    _tree(root)
    log = tmp_path / "auth.log"
    log.write_text("")
    lines: list[tuple[str, str]] = []
    with events.EventLog(tmp_path / "ev.json") as ev:
        agent = HidsAgent(
            scan([root]),
            sensor="hids-srv",
            events_log=ev,
            auth_logs=[log],
            on_log_line=lambda path, line: lines.append((path, line)),
        )
        try:
            agent.check_host()  # nothing new yet
            (root / "etc" / "f1.conf").write_text("evil\n")
            with open(log, "a") as fh:
                fh.write("sshd[9]: Failed password for root from 203.0.113.5 port 5 ssh2\nsshd[9]: noise\n")
            for _ in range(10):
                agent.step(0.05)
        finally:
            agent.close()
    recs = list(events.read(tmp_path / "ev.json"))
    assert [r["hids"]["path"] for r in recs if r["event_type"] == "alert"] == [str(root / "etc" / "f1.conf")]
    assert lines == [(str(log), "sshd[9]: Failed password for root from 203.0.113.5 port 5 ssh2")]
    assert agent.alerts == 1


def test_large_files_hash_on_threads_like_small_ones(tmp_path: Path) -> None:
    import hashlib

    root = tmp_path / "big"
    root.mkdir()
    data = os.urandom(3 << 20)
    (root / "image.iso").write_bytes(data)
    (root / "small").write_bytes(b"s")
    base = scan([root], workers=2)
    serial = scan([root], workers=1)
    want = hashlib.sha256(data).hexdigest()
    assert (
        base.entries[str(root / "image.iso")].sha256 == serial.entries[str(root / "image.iso")].sha256 == want
    )
    with open(root / "image.iso", "r+b") as fh:
        fh.seek(2 << 20)
        fh.write(b"\0")
    assert [c.kinds for c in compare(base, scan([root]))] == [("modified",)]
