"""Helpers shared by the HSM crash-injection tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_and_kill(script: str, root: Path, k: int, run_s: float) -> None:
    """Start `script root k` (a worker that prints "ready" and then works until killed), let it work for
    up to `run_s` seconds, SIGKILL it, and check that the kill is what stopped it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, script, str(root), str(k)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.stdout.close()
    try:
        proc.wait(timeout=run_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the worker stopped by itself"
