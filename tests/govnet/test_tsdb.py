"""The metrics store and writer against a real VictoriaMetrics on 127.0.0.1 (no root needed).

Every store started here lives in tmp_path on a free port and is stopped in a `finally`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govnet.errors import MetricError, TsdbError
from govnet.metrics import Point
from govnet.tsdb import Store, free_port
from govnet.tsdb_writer import Writer

ROOT = Path(__file__).resolve().parents[2]
LINK = "core1--core2"
VM_PERSIST_S = 6.0

if shutil.which("victoria-metrics") is None and not os.environ.get("CI"):
    pytest.skip("victoria-metrics is not installed (scripts/setup.sh installs it)", allow_module_level=True)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)
    s = Store(None, tmp_path / "tsdb", port=free_port())
    try:
        assert s.up() is True
        yield s
    finally:
        s.down()
        assert s.pid() is None


def _points(start_ns: int, n: int, node: str, step_ms: int = 100, base: int = 0) -> list[Point]:
    """n samples of one interface sending 1250 bytes per 100 ms (100 kbit/s)."""
    tags = {"node": node, "ifname": "gn1e0", "link": LINK, "kind": "ring"}
    return [
        Point(
            "iface", tags, {"tx_bytes": base + 1250 * i, "oper_up": True}, start_ns + i * step_ms * 1_000_000
        )
        for i in range(n)
    ]


def _count(store: Store, match: str) -> int:
    store.force_flush()
    return sum(len(s["values"]) for s in store.export(match))


def test_write_then_query_back(store: Store, tmp_path: Path) -> None:
    t0 = time.time_ns() - 300 * 10**9
    with Writer(store.url, spill_dir=tmp_path / "spill") as w:
        w.write(_points(t0, 1200, "core1"))
        w.write(_points(t0, 800, "core2"))
        assert w.flush() is True
        st = w.stats()
    assert (st.accepted, st.sent, st.pending, st.dropped) == (2000, 2000, 0, 0)  # points, not fields
    assert _count(store, f'{{__name__="iface_tx_bytes",link="{LINK}"}}') == 2000
    assert _count(store, '{__name__="iface_oper_up",node="core2"}') == 800
    got = store.query(f'sum(count_over_time(iface_tx_bytes{{link="{LINK}"}}[10m]))')
    assert float(got[0]["value"][1]) == 2000
    # The README's PromQL example: bits per second from the byte counter (100 kbit/s was written).
    at = (t0 + 60 * 10**9) / 1e9
    bps = store.query(f'rate(iface_tx_bytes{{link="{LINK}",node="core1"}}[1m])*8', at=at)
    assert len(bps) == 1
    assert float(bps[0]["value"][1]) == pytest.approx(100_000, rel=0.01)
    assert {s["node"] for s in store.series('{__name__="iface_tx_bytes"}')} == {"core1", "core2"}
    rng = store.query_range('iface_tx_bytes{node="core2"}', at - 50, at, 10)
    assert len(rng) == 1 and len(rng[0]["values"]) == 6


def test_writer_validates_before_queueing(store: Store) -> None:
    with Writer(store.url) as w:
        good = _points(time.time_ns(), 1, "core1")[0]
        bad = Point("iface", {"node": "core1"}, {"tx_bytes": 1})
        with pytest.raises(MetricError, match="iface: missing tag"):
            w.write([good, bad])
        assert w.stats().accepted == 0


def test_no_point_lost_when_the_store_dies_and_comes_back(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    w = Writer(store.url, spill_dir=spill, memory_points=400, batch_points=100, flush_interval_s=0.1)
    try:
        t0 = time.time_ns() - 600 * 10**9
        w.write(_points(t0, 1000, "core1"))
        assert w.flush()
        # VictoriaMetrics 1.79 persists what it acknowledged within ~5 s; a SIGKILL before that loses it
        # inside the store (its own durability window, not the writer's). Wait it out, then kill.
        store.force_flush()
        time.sleep(VM_PERSIST_S)
        pid = store.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while store.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not store.healthy()

        # The store is down: 3000 more points go to memory (400) and spill to disk.
        for k in range(30):
            w.write(_points(t0 + (100 + k * 10) * 10**9, 100, "core1", base=10**6))
        time.sleep(0.4)  # the flush thread tries, fails and keeps everything
        st = w.stats()
        assert not st.store_up
        assert st.on_disk > 0 and any(spill.glob("spill-*.lp"))
        assert st.in_memory <= 400
        assert st.dropped == 0
        assert st.sent + st.pending == st.accepted == 4000

        assert store.up() is True
        w.write(_points(t0 + 500 * 10**9, 500, "core2"))
    finally:
        final = w.close()
    assert (final.pending, final.dropped, final.rejected) == (0, 0, 0)
    assert final.sent == final.accepted == 4500
    assert not any(spill.glob("spill-*.lp"))
    assert _count(store, '{__name__="iface_tx_bytes",node="core1"}') == 4000
    assert _count(store, '{__name__="iface_tx_bytes",node="core2"}') == 500
    assert _count(store, '{__name__="iface_oper_up"}') == 4500


def test_points_left_on_disk_are_sent_by_the_next_writer(store: Store, tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    dead = f"http://127.0.0.1:{free_port()}"
    t0 = time.time_ns() - 100 * 10**9
    w = Writer(dead, spill_dir=spill, flush_interval_s=0.05)
    w.write(_points(t0, 300, "core3"))
    st = w.close()
    assert (st.on_disk, st.sent) == (300, 0)
    with Writer(store.url, spill_dir=spill) as w2:
        assert w2.flush()
        assert w2.stats().sent == 300
    assert _count(store, '{__name__="iface_tx_bytes",node="core3"}') == 300


class _FlakyWriter(Writer):
    """A writer whose store is a list: down while `up` is False (every send fails)."""

    up = False

    def __init__(self, *args: object, **kw: object) -> None:
        self.received: list[str] = []
        self.during_send: list[Point] = []  # written by "another thread" while a batch is in flight
        super().__init__(f"http://127.0.0.1:{free_port()}", *args, **kw)  # type: ignore[arg-type]

    def _send(self, body: str) -> str:
        if self.during_send:
            more, self.during_send = self.during_send, []
            self.write(more)
        if not self.up:
            return self._down("test: store down")
        self.received.extend(body.splitlines())
        return "ok"


def _seq_points(start: int, n: int) -> list[Point]:
    return [Point("app", {"app": "oa", "op": "x"}, {"ops": i}, 1_000 + i) for i in range(start, start + n)]


def test_buffered_points_are_sent_in_order(tmp_path: Path) -> None:
    w = _FlakyWriter(spill_dir=tmp_path / "spill", memory_points=300, batch_points=100, flush_interval_s=0.01)
    try:
        # A failed in-flight batch (0..99) must go back in front of what spilled during its flight.
        w.write(_seq_points(0, 100))
        w.during_send = _seq_points(100, 400)
        assert not w.flush()
        assert w.stats().on_disk >= 200
        for k in range(5, 20):
            w.write(_seq_points(k * 100, 100))
            time.sleep(0.005)  # the flush thread fails in between, putting batches back in front
        st = w.stats()
        assert st.in_memory <= 300 and st.on_disk == 2000 - st.in_memory and st.dropped == 0
        w.up = True
        assert w.flush()
    finally:
        w.close()
    assert [int(line.split("ops=")[1].split("i")[0]) for line in w.received] == list(range(2000))


def test_disk_bound_drops_and_counts(tmp_path: Path) -> None:
    w = _FlakyWriter(spill_dir=tmp_path / "spill", memory_points=100, batch_points=50, disk_bytes=20_000)
    try:
        w.write(_seq_points(0, 2000))
        st = w.stats()
        assert st.dropped > 0
        assert st.accepted == 2000 == st.pending + st.dropped
        assert sum(f.stat().st_size for f in (tmp_path / "spill").glob("spill-*.lp")) <= 20_000
        w.up = True
        assert w.flush()
    finally:
        final = w.close()
    assert final.sent == 2000 - final.dropped and final.pending == 0
    got = [int(line.split("ops=")[1].split("i")[0]) for line in w.received]
    assert got == sorted(got) and got[0] == 0 and got[-1] == 1999


def test_store_errors_are_one_line(store: Store) -> None:
    with pytest.raises(TsdbError, match="HTTP 422"):
        store.query("sum((")
    assert store.query('iface_tx_bytes{node="nowhere"}') == []
    dead = Store(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TsdbError, match=r"does not answer \(.*refused"):
        dead.query("up")
    with pytest.raises(TsdbError, match="does not answer"):
        dead.check()


def test_down_never_kills_a_stranger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)
    s = Store(None, tmp_path / "tsdb")
    s.dir.mkdir(parents=True)
    s.pid_file.write_text(f"{os.getpid()}\n")  # a pid that is alive but not our VictoriaMetrics
    assert s.pid() is None
    assert s.down() is False
    assert not s.pid_file.exists()


def test_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVNET_TSDB_URL", raising=False)
    with pytest.raises(TsdbError, match="no-such-victoria-metrics not found on PATH"):
        Store(None, tmp_path / "tsdb", binary="no-such-victoria-metrics").up()


# CLI --------------------------------------------------------------------------------------------
def _govnet(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GOVNET_TSDB_URL"}
    env.update(extra)
    return env


def test_cli_status_against_a_dead_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    r = _govnet("tsdb", "status", env=_env(GOVNET_TSDB_URL=url))
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert url in lines[0] and "does not answer" in lines[0]
    assert "Traceback" not in r.stderr


def test_cli_missing_binary(tmp_path: Path) -> None:
    r = _govnet("tsdb", "up", env=_env(GOVNET_VAR=str(tmp_path), PATH="/nonexistent"))
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "victoria-metrics not found" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_up_status_down(tmp_path: Path) -> None:
    env = _env(GOVNET_VAR=str(tmp_path))
    pid_file = tmp_path / "tsdb" / "victoria-metrics.pid"
    port = str(free_port())
    try:
        r = _govnet("tsdb", "up", "--port", port, env=env)
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("metrics store started: http://127.0.0.1:" + port)
        pid = int(pid_file.read_text())
        r = _govnet("tsdb", "up", env=env)
        assert r.returncode == 0 and "already running" in r.stdout and f"pid {pid}" in r.stdout
        r = _govnet("tsdb", "status", env=env)
        assert r.returncode == 0, r.stderr
        assert f"http://127.0.0.1:{port}" in r.stdout and "series" in r.stdout
        r = _govnet("tsdb", "down", env=env)
        assert r.returncode == 0 and f"stopped (pid {pid})" in r.stdout
        assert (
            not Path(f"/proc/{pid}").exists() or b"victoria" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        )
        r = _govnet("tsdb", "status", env=env)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr
    finally:
        Store(None, tmp_path / "tsdb").down()  # stops it only if a failed assertion left it running
