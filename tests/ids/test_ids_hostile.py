"""Hostile captures (issue 15): damaged files never pass quietly, alerts stream out (and survive
Ctrl-C), fragments are reassembled (no evasion, no false scans), long request lines stay inspected."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from ids_craft import ATTACKER, PORTAL, get, http, scan, sids, timed
from scapy.all import IP, TCP, Ether, Raw, fragment, wrpcap
from scapy.utils import PcapNgWriter

from cli.main import main
from ids.nids import PcapWriter, load_rules, read_pcap, scan_pcap
from ids.nids.detectors import DetectorConfig

ROOT = Path(__file__).resolve().parents[2]
PASSWD = 1000004  # GOVNET WEB /etc/passwd requested
NULL_SCAN = 1000031


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def attack_capture(tmp: Path, n: int = 6) -> Path:
    path = tmp / "a.pcap"
    wrpcap(str(path), timed([get(f"/etc/passwd?n={i}") for i in range(n)]))
    return path


def test_damaged_record_header_midway_is_exit_2_with_the_alerts_so_far(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = attack_capture(tmp_path)
    data = bytearray(good.read_bytes())
    offsets = [24]
    for cap in read_pcap(good):
        offsets.append(offsets[-1] + 16 + len(cap[1]))
    at = offsets[3]  # the fourth record's header
    struct.pack_into("<I", data, at + 8, 0x7FFFFFF0)  # its captured length: absurd
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(bytes(data))
    for extra in ([], ["--fail-on-alert"]):
        rc, out, err = run(capsys, "ids", "scan", str(bad), *extra)
        assert rc == 2, extra
        assert f"damaged at byte {at} (after frame 3)" in err and "3 alerts found before it" in err
        assert out.count("GOVNET WEB /etc/passwd requested") == 3  # what was read is reported
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(good.read_bytes()[:-5])  # a crash mid-record: a warning, not a failure
    rc, out, err = run(capsys, "ids", "scan", str(cut))
    assert rc == 0 and "warning:" in err and "truncated at byte" in err and "(after frame 5)" in err


def pcapng(tmp: Path) -> bytes:
    ng = tmp / "x.pcapng"
    with PcapNgWriter(str(ng)) as w:
        for p in timed([get("/etc/passwd"), get("/index.html")]):
            w.write(p)
    return ng.read_bytes()


@pytest.mark.parametrize(
    ("mangle", "needle"),
    [
        (lambda d, last: d[:last] + struct.pack("<II", 6, 0) + d[last + 8 :], "block length of 0"),
        (lambda d, last: d[:last] + struct.pack("<II", 6, 30) + d[last + 8 :], "block length of 30"),
        (lambda d, last: d + b"\x00garbage!", "block length of"),
        (lambda d, last: d + b"\x01\x02\x03", "3 trailing bytes that are not a block"),
        (lambda d, last: d[:-1] + b"\x01", "trailing length differs"),
    ],
)
def test_damaged_pcapng_is_exit_2(
    mangle: object, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = pcapng(tmp_path)
    last = len(data) - struct.unpack_from("<I", data, len(data) - 4)[0]  # the last block's start
    bad = tmp_path / "bad.pcapng"
    bad.write_bytes(mangle(data, last))  # type: ignore[operator]
    rc, _, err = run(capsys, "ids", "scan", str(bad), "--fail-on-alert")
    assert rc == 2 and needle in err and "damaged at byte" in err


def alert_frames(path: Path, n: int) -> None:
    frame = bytes(http(ATTACKER, PORTAL, b"evil" * 8))
    with PcapWriter(path) as w:
        for i in range(n):
            w.write(1_763_800_000 + i * 0.001, frame)


def test_alerts_stream_out_and_are_not_kept(tmp_path: Path) -> None:
    rules = tmp_path / "r.rules"
    rules.write_text('alert tcp any any -> any any (msg:"evil"; content:"evil"; sid:9100001; rev:1;)\n')
    rs = load_rules([rules])
    peaks = []
    for n in (2_000, 8_000):
        cap = tmp_path / f"{n}.pcap"
        alert_frames(cap, n)
        seen = [0]

        def sink(_rec: dict[str, object], seen: list[int] = seen) -> None:
            seen[0] += 1

        tracemalloc.start()
        res = scan_pcap(cap, rs, DetectorConfig(enabled=()), on_alert=sink, keep=0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert res.stats.alerts == seen[0] == n and res.alerts == []
    assert peaks[1] < peaks[0] * 1.5 + 200_000  # 4x the alerts, not 4x the memory


def _where(pid: int) -> str:
    """State, kernel wait channel and threads of a process that does not end (for the failure text)."""
    proc = Path("/proc") / str(pid)
    out = []
    for name in ("status", "wchan", "stack"):
        try:
            text = (proc / name).read_text(errors="replace")
        except OSError as exc:
            text = f"unreadable ({exc.strerror})"
        if name == "status":
            text = " ".join(x for x in text.splitlines() if x.split(":")[0] in ("State", "Threads", "SigPnd"))
        out.append(f"{name}: {text.strip()}")
    with contextlib.suppress(OSError):
        out.append(f"fds: {sorted(os.listdir(proc / 'fd'))}")
    return "; ".join(out)


def test_ctrl_c_keeps_the_alerts_written_so_far(tmp_path: Path) -> None:
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    eve = tmp_path / "eve.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli", "ids", "scan", str(fifo), "--events", str(eve), "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a test runner started in the background of a shell without
        # job control inherits SIGINT ignored, and Python keeps an ignored SIGINT ignored (seen in CI:
        # the scan slept on in its read). The user's shell gives the command the default disposition.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    writer = open(fifo, "wb")  # noqa: SIM115 - kept open: the scan waits for more frames
    try:
        src = tmp_path / "a.pcap"
        wrpcap(str(src), timed([get("/etc/passwd"), get("/etc/passwd?x=1")]))
        writer.write(src.read_bytes())
        writer.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not eve.exists() or eve.read_text().count("\n") < 2):
            time.sleep(0.05)  # readiness: both alerts are in the EVE file while the scan still reads
        assert eve.read_text().count("\n") == 2
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired as exc:  # say where it hangs: the kernel's view of the process
            raise AssertionError(f"the scan did not end within 30 s of Ctrl-C: {_where(proc.pid)}") from exc
    finally:
        writer.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "interrupted after 2 frames; 2 alerts so far, written to" in err and "torn down" not in err
    recs = [json.loads(x) for x in eve.read_text().splitlines()]
    assert [r["alert"]["signature_id"] for r in recs] == [PASSWD, PASSWD]
    assert out.count("\n") == 2  # the --json stream too


def fragmented_get(uri: str, size: int = 16) -> list[object]:
    pkt = (
        IP(src=ATTACKER, dst=PORTAL, id=4242)
        / TCP(sport=40000, dport=80, flags="PA")
        / Raw(f"GET {uri} HTTP/1.1\r\nHost: portal\r\n\r\n".encode())
    )
    return [Ether() / f for f in fragment(pkt, fragsize=size)]


def test_fragmented_request_is_reassembled_and_no_fragment_is_a_null_scan(tmp_path: Path) -> None:
    frags = fragmented_get("/etc/passwd")
    assert len(frags) > 3
    res = scan(tmp_path, timed(frags))
    assert sids(res) == [PASSWD] and NULL_SCAN not in sids(res)
    assert res.stats.fragments == len(frags) and res.stats.reassembled == 1
    shuffled = [frags[-1], *frags[1:-1][::-1], frags[0]]  # out of order: still one datagram
    res = scan(tmp_path, timed(shuffled))
    assert sids(res) == [PASSWD]
    res = scan(tmp_path, timed(frags[:-1]))  # never completed: nothing inspected, no false alert
    assert sids(res) == [] and res.stats.reassembled == 0


def test_overlapping_fragments_first_bytes_win_and_are_counted(tmp_path: Path) -> None:
    frags = fragmented_get("/etc/passwd", size=8)
    liar = frags[2].copy()
    liar[Raw].load = b"X" * len(liar[Raw].load)  # the same offset again, other bytes
    del liar[IP].chksum
    from ids.nids.engine import Engine

    eng = Engine(load_rules([]), DetectorConfig(enabled=()))
    for i, f in enumerate([*frags[:3], liar, *frags[3:]]):
        eng.feed(1.0 + i, bytes(f))
    assert eng.defrag.stats.overlaps == 1 and eng.stats.reassembled == 1


def test_fragment_bounds(tmp_path: Path) -> None:
    from ids.nids.defrag import Defrag

    d = Defrag(timeout=5.0, max_datagrams=2)
    frames = [bytes(f) for f in fragmented_get("/etc/passwd")]
    assert d.add(frames[0], 14, 0.0) is None
    assert d.add(frames[1], 14, 10.0) is None and d.stats.timeouts == 1  # the first datagram expired
    for ident in (1, 2, 3):
        pkt = Ether() / IP(src=ATTACKER, dst=PORTAL, id=ident, flags="MF") / Raw(b"x" * 16)
        d.add(bytes(pkt), 14, 10.0)
    assert d.stats.evicted >= 1 and len(d._open) <= 2
    big = Ether() / IP(src=ATTACKER, dst=PORTAL, id=9, frag=8180, proto=6) / Raw(b"y" * 200)  # past 65,535
    assert d.add(bytes(big), 14, 10.0) is None and d.stats.too_big == 1


def test_long_request_line_does_not_silence_http_rules(tmp_path: Path) -> None:
    pad = "A" * 9000
    res = scan(tmp_path, timed([get(f"/search?q={pad}&f=../../etc/passwd")]))
    assert PASSWD in sids(res)
    partial = http(ATTACKER, PORTAL, f"GET /etc/passwd?{'B' * 20000}".encode())  # the line goes on later
    res = scan(tmp_path, timed([partial]))
    assert PASSWD in sids(res)


def test_absurd_capture_times_do_not_crash_the_scan(tmp_path: Path) -> None:
    from govnet.events import timestamp

    assert timestamp(8e12).startswith("9999-12-31") and timestamp(float("nan")).startswith("1970")
    assert timestamp(-1e13).startswith("1970")
    found = ROOT / "fuzz" / "regressions" / "pcap" / "year-out-of-range.pcapng"  # found by make fuzz
    res = scan_pcap(found, keep=0)
    assert res.stats.frames >= 1
