"""The typed handle every part gets on a running emulation (instead of `Any`).

`Emulation` (build.py) implements it; tests and benchmarks may pass anything with the same shape.
Nodes are Mininet nodes: a shell in the node's namespaces that runs commands (`cmd`) and starts
processes (`popen`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Protocol

from topology.model import Link, Network


class NodeHandle(Protocol):
    """One emulated host, router, firewall or switch."""

    name: str

    @property
    def pid(self) -> Any: ...  # the node shell's pid (its namespaces are /proc/<pid>/ns/*)

    def cmd(self, *args: Any, **kwargs: Any) -> str: ...  # run a shell command; its output

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[Any]: ...  # start a process


class EmulatorHandle(Protocol):
    """A running emulated network built from `model`."""

    model: Network
    workdir: Path
    timings: dict[str, float]

    def node(self, name: str) -> NodeHandle: ...

    def pid(self, name: str) -> int: ...

    def find_link(self, a: str, b: str, member: int = 0) -> Link: ...

    def set_link(self, lk: Link, up: bool) -> None: ...

    def set_rate(self, lk: Link, mbps: float) -> None: ...

    def reapply(self, name: str) -> None: ...

    def wait_converged(self, timeout_s: float = ...) -> float: ...

    def temp_dir(self, prefix: str) -> Path: ...

    def annotate(self, key: str, value: Any) -> None: ...
