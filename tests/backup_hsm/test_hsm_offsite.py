"""The off-site copy: the transfer plan on the models, and real transfers of a backup archive on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from backup_hsm import BackupStore, HsmInputError, Job, VirtualClock, Window
from backup_hsm.offsite import plan_offsite
from backup_hsm.transfer import TransferError, TransferResult, pull, read_key, serve_file
from cli.main import main
from topology import load_model

ROOT = Path(__file__).resolve().parents[2]


def test_plan_on_the_reference_model() -> None:
    plan = plan_offsite(load_model("weihai"), "docs", 45 * 10**9, "a" * 64)
    assert (plan.source, plan.source_addr) == ("srv-file", "10.30.0.13")
    assert plan.destination.startswith("approval-centre-")  # another site, whose zone may reach servers
    assert plan.path[0] == "srv-file" and plan.path[-1] == plan.destination and "fw-inner" in plan.path
    assert plan.bottleneck_mbps == 100 and plan.rate_mbps == 50
    assert plan.duration_s == pytest.approx(45e9 * 8 / 50e6) and plan.start_s == 22 * 3600
    assert plan.duration_s == 7200.0 and plan.window_end_s == 25 * 3600 and plan.fits  # 22:00-00:00
    late = plan_offsite(load_model("weihai"), "docs", 45 * 10**9, "a" * 64, after_s=2 * 3600)
    assert not late.fits  # starts at midnight, would end at 02:00
    cmds = plan.commands("/a/x.tar", "/srv/offsite", "/k.key", python="python3")
    assert cmds["srv-file"][:4] == ["python3", "-m", "backup_hsm.transfer", "serve"]
    assert "--expect-sha256" in cmds[plan.destination] and "10.30.0.13:9100" in cmds[plan.destination]
    assert all(c[c.index("--key-file") + 1] == "/k.key" for c in cmds.values())
    assert cmds["srv-file"][cmds["srv-file"].index("--bind") + 1] == "10.30.0.13"  # the host's own address


def test_plan_on_the_small_model_and_bad_input() -> None:
    net = load_model("small")
    plan = plan_offsite(net, "docs", 10**6, "b" * 64, Window(1.0, 1.0), share=1.0)
    assert plan.source == "srv-oa" and plan.destination.startswith("bureau-")  # no srv-file in small
    assert plan.rate_mbps == plan.bottleneck_mbps and plan.fits
    with pytest.raises(HsmInputError, match="share"):
        plan_offsite(net, "docs", 1, "b" * 64, share=0)
    with pytest.raises(HsmInputError, match="no such host"):
        plan_offsite(net, "docs", 1, "b" * 64, destination="srv-nope")


def _archive(tmp: Path) -> Path:
    """A real backup archive (tar) from a backup job."""
    src = tmp / "src"
    src.mkdir()
    for i in range(20):
        (src / f"doc{i}.txt").write_bytes(hashlib.sha256(str(i).encode()).digest() * 4000)
    store = BackupStore(tmp, VirtualClock())
    b = store.run(Job("docs", "files", src))
    path = store._path("offsite", "docs", b.id, b.mode)
    store.close()
    return path


KEY = bytes(range(32))
refusals: list[str] = []


def _serve(
    path: Path, rate: float | None = None, timeout: float = 10
) -> tuple[threading.Thread, list[object], int]:
    ports: list[int] = []
    got = threading.Event()
    out: list[object] = []

    def run() -> None:
        try:
            out.append(
                serve_file(
                    path,
                    "127.0.0.1",
                    0,
                    rate,
                    timeout=timeout,
                    ready=lambda p: (ports.append(p), got.set()),
                    key=KEY,
                    log=refusals.append,
                )
            )
        except Exception as exc:  # the test inspects it
            out.append(exc)
            got.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert got.wait(5)
    return t, out, ports[0] if ports else 0


def test_real_transfer_is_verified_and_paced(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    t, out, port = _serve(archive)
    res = pull("127.0.0.1", port, tmp_path / "offsite", expect_sha256=digest, key=KEY)
    t.join(5)
    assert isinstance(out[0], TransferResult) and out[0].sha256 == digest == res.sha256
    assert (tmp_path / "offsite" / archive.name).read_bytes() == archive.read_bytes()
    size = archive.stat().st_size
    rate = size * 8 / 0.5  # paced to take ~0.5 s
    t, out, port = _serve(archive, rate)
    started = time.monotonic()
    res = pull("127.0.0.1", port, tmp_path / "offsite2", key=KEY)
    took = time.monotonic() - started
    t.join(5)
    assert 0.45 <= took < 1.5 and res.bytes == size
    assert isinstance(out[0], TransferResult) and out[0].mbps <= rate / 1e6 * 1.05


def test_wrong_archive_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    t, out, port = _serve(archive)
    with pytest.raises(TransferError, match="plan expects"):
        pull("127.0.0.1", port, tmp_path / "offsite", expect_sha256="0" * 64, key=KEY)
    t.join(5)
    assert isinstance(out[0], TransferError) and "refused" in str(out[0])
    assert list((tmp_path / "offsite").iterdir()) == []


def test_short_or_lying_source_is_refused(tmp_path: Path) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def liar() -> None:
        conn, _ = srv.accept()
        with conn:
            ours = "1" * 32
            conn.sendall(json.dumps({"hello": "govnet-transfer/2", "nonce": ours}).encode() + b"\n")
            theirs = json.loads(conn.recv(500))["nonce"]
            mac = hmac.new(KEY, f"source|{theirs}|{ours}".encode(), hashlib.sha256).hexdigest()
            head = {"mac": mac, "name": "x.tar", "size": 100, "sha256": "0" * 64}
            conn.sendall(json.dumps(head).encode() + b"\n")
            conn.sendall(b"y" * 40)  # then hangs up early

    t = threading.Thread(target=liar, daemon=True)
    t.start()
    with pytest.raises(TransferError, match="short transfer: 40 of 100"):
        pull("127.0.0.1", port, tmp_path / "o", key=KEY)
    t.join(5)
    srv.close()
    assert list((tmp_path / "o").iterdir()) == []
    with pytest.raises(TransferError, match="cannot reach"):
        pull("127.0.0.1", port, tmp_path / "o", timeout=2, key=KEY)


def test_module_entry_points_copy_between_two_processes(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env_cmd = [sys.executable, "-m", "backup_hsm.transfer"]
    key = str(tmp_path / "k.key")
    assert subprocess.run([*env_cmd, "keygen", key], cwd=ROOT, capture_output=True).returncode == 0
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    server = subprocess.Popen(
        [*env_cmd, "serve", str(archive), "--key-file", key, "--port", str(port), "--rate-mbps", "800"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stderr is not None
    assert server.stderr.readline().startswith(f"serving {archive} on 127.0.0.1:{port}")
    puller = subprocess.run(
        [*env_cmd, "pull", "--key-file", key, "--from", f"127.0.0.1:{port}", "--out", str(tmp_path / "off")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=20,
    )
    assert server.stdout is not None
    served = json.loads(server.stdout.read())
    server.stdout.close()
    server.stderr.close()
    assert server.wait(10) == 0 and puller.returncode == 0, puller.stdout
    pulled = json.loads(puller.stdout)
    assert pulled["ok"] and served["ok"] and pulled["sha256"] == served["sha256"]
    assert (tmp_path / "off" / archive.name).read_bytes() == archive.read_bytes()


def test_cli_offsite_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = _archive(tmp_path)
    assert main(["hsm", "offsite-plan", str(archive), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["source"] == "srv-file" and out["bytes"] == archive.stat().st_size and out["fits"]
    assert set(out["commands"]) == {"srv-file", out["destination"]}
    assert main(["hsm", "offsite-plan", str(tmp_path / "nope.tar")]) == 2
    assert "archive" in capsys.readouterr().err


def test_puller_without_the_key_is_refused_and_the_real_one_still_gets_the_copy(tmp_path: Path) -> None:
    archive = _archive(tmp_path)
    refusals.clear()
    t, out, port = _serve(archive)
    with pytest.raises(TransferError, match="refused us: authentication failed"):
        pull("127.0.0.1", port, tmp_path / "thief", key=b"x" * 32)
    with socket.create_connection(("127.0.0.1", port)) as raw:  # a scanner: reads the hello, says nothing
        raw.recv(200)
        raw.sendall(b'{"nonce": "00", "mac": "00"}\n')
        assert b"authentication failed" in raw.recv(200)
    res = pull("127.0.0.1", port, tmp_path / "offsite", key=KEY)
    t.join(5)
    assert isinstance(out[0], TransferResult) and res.sha256 == out[0].sha256
    assert list((tmp_path / "thief").iterdir()) == []  # not one byte of the archive left the source
    assert len(refusals) == 2 and all("authentication failed" in r for r in refusals)
    mode = stat.S_IMODE(os.stat(tmp_path / "offsite" / archive.name).st_mode)
    assert mode == 0o600


def test_puller_refuses_a_server_that_does_not_know_the_key(tmp_path: Path) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def impostor() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(json.dumps({"hello": "govnet-transfer/2", "nonce": "1" * 32}).encode() + b"\n")
            conn.recv(500)
            head = {"mac": "0" * 64, "name": "x.tar", "size": 3, "sha256": "0" * 64}
            conn.sendall(json.dumps(head).encode() + b"\n" + b"abc")

    t = threading.Thread(target=impostor, daemon=True)
    t.start()
    with pytest.raises(TransferError, match="could not prove it holds the shared key"):
        pull("127.0.0.1", port, tmp_path / "o", key=KEY)
    t.join(5)
    srv.close()
    assert list((tmp_path / "o").iterdir()) == []


def test_key_files_and_the_default_bind(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    cmd = [sys.executable, "-m", "backup_hsm.transfer"]
    r = subprocess.run(
        [*cmd, "serve", "a.tar", "--key-file", str(key)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 2 and "no such key file" in r.stderr and "keygen" in r.stderr
    assert subprocess.run([*cmd, "keygen", str(key)], capture_output=True, cwd=ROOT).returncode == 0
    r = subprocess.run([*cmd, "keygen", str(key)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "never overwritten" in r.stderr
    os.chmod(key, 0o644)
    r = subprocess.run(
        [*cmd, "serve", "a.tar", "--key-file", str(key)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 2 and "readable by others" in r.stderr
    (tmp_path / "short.key").write_text("abcd\n")
    os.chmod(tmp_path / "short.key", 0o600)
    with pytest.raises(TransferError, match="not a key"):
        read_key(tmp_path / "short.key")
    assert inspect.signature(serve_file).parameters["bind"].default == "127.0.0.1"
    r = subprocess.run([*cmd, "serve", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert "default 127.0.0.1" in r.stdout
