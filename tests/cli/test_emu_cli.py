"""Emulation through the real CLI: SIGTERM teardown, crash recovery with `govnet clean`, the reference
network's `topo up --check`, and the refusal of link delay on a kernel without netem (root; CI runs them).

Kept apart from test_emu.py so that module's shared network is gone before these start their own.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from govnet.errors import CapabilityError
from topology import load_model, load_model_text
from topology.emulator import Emulation, detect
from topology.emulator.state import govnet_interfaces, shell_pids
from topology.loader import MODELS_DIR
from topology.render import bridge_name

pytestmark = [
    pytest.mark.emu,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces); CI runs as root"),
]
GOVNET = str(Path(sys.executable).with_name("govnet"))


def _names(model: str) -> set[str]:
    net = load_model(model)
    return {bridge_name(n) if n.is_switch else n.name for n in net.nodes}


def _leftovers(names: set[str]) -> tuple[list[str], dict[str, int]]:
    return govnet_interfaces(), shell_pids(names)


def _wait_for(proc: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    """Read the process's output until a line matches; fail (never hang) after timeout.

    Reads the raw descriptor: a buffered readline() may pull several lines at once, after which
    select() on the descriptor would wait for output that has already been read."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        seen += chunk.decode(errors="replace")
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"never saw {pattern!r}; output so far:\n{seen}")


def test_netem_fields_are_refused_not_dropped() -> None:
    caps = detect()
    if caps.has("netem"):
        pytest.skip("this kernel has netem; the refusal path cannot be exercised here")
    text = (MODELS_DIR / "small.yaml").read_text()
    text = text.replace("uplink: {bw_mbps: 100}\n  lans", "uplink: {bw_mbps: 100, delay_ms: 5}\n  lans", 1)
    net = load_model_text(text, "delay.yaml")
    assert any(lk.delay_ms == 5 for lk in net.links)
    with pytest.raises(CapabilityError, match="delay_ms=5"):
        Emulation(net, Path("/tmp")).start()
    assert govnet_interfaces() == []


def _up_then_signal(tmp_path: Path, sig: int) -> None:
    """Run `govnet topo up small` until the network is up, then send it a signal and wait for it."""
    env = dict(os.environ, GOVNET_RUNS=str(tmp_path))
    proc = subprocess.Popen(
        [GOVNET, "topo", "up", "small"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        _wait_for(proc, r"is up", 120)
        assert govnet_interfaces(), "the network should be up now"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_tears_everything_down(tmp_path: Path) -> None:
    _up_then_signal(tmp_path, signal.SIGTERM)
    assert _leftovers(_names("small")) == ([], {})


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return "gone"


def test_clean_recovers_after_a_crash(tmp_path: Path) -> None:
    _up_then_signal(tmp_path, signal.SIGKILL)  # no teardown runs
    ifaces, _shells = _leftovers(_names("small"))
    assert ifaces, "a killed run leaves its network behind (that is what clean is for)"
    assert subprocess.run(["pgrep", "-f", "govnet-frr-"], capture_output=True).returncode == 0, "FRR orphans"
    out = subprocess.run([GOVNET, "clean"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "removed" in out.stdout
    assert _leftovers(_names("small")) == ([], {})
    # ...and no FRR daemon of that run survived
    frr = subprocess.run(["pgrep", "-af", "govnet-frr-"], capture_output=True, text=True)
    states = {pid: _state(int(pid)) for pid in frr.stdout.split()[::1] if pid.isdigit()}
    assert frr.stdout.strip() == "", (
        f"FRR daemons of the crashed run survived clean ({out.stdout.strip()}): {frr.stdout[:1500]} {states}"
    )


def test_reference_network_passes_check_via_cli(tmp_path: Path) -> None:
    env = dict(os.environ, GOVNET_RUNS=str(tmp_path))
    out = subprocess.run(
        [GOVNET, "topo", "up", "--check"], capture_output=True, text=True, timeout=900, env=env
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert re.search(r"^\d+ passed, 0 failed$", out.stdout, re.M)
    heal = re.search(r"cut core\S+ .*?(\d+\.\d+) s\s+ok", out.stdout)
    assert heal and float(heal.group(1)) < 1.0
    for rate in ("10 Mbit/s", "100 Mbit/s", "1000 Mbit/s"):
        assert re.search(rf"{rate} ±10 %.*ok$", out.stdout, re.M), f"no passing {rate} spot check"
    assert _leftovers(_names("weihai")) == ([], {})
