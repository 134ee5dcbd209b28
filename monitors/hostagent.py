"""The host agent: psutil inside one emulated host's namespace, one JSON line per interval.

    python -m monitors.hostagent --node srv-oa --interval 1 [--cycles N]

What is per host and what is not, in an emulation: network namespaces give each host its own
interfaces and sockets (per-interface counters and connections are the host's own), and processes
are counted by namespace; CPU and memory are the one machine's (Mininet hosts share a kernel), so
they are reported as such — a planner reads them as the emulation's load, not a server's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any


def _own_netns() -> int:
    return os.stat("/proc/self/ns/net").st_ino


def _processes_in_netns(inode: int) -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.stat(f"/proc/{pid}/ns/net").st_ino == inode:
                    n += 1
            except OSError:
                continue
    return n


def sample(node: str, inode: int) -> dict[str, Any]:
    """One reading: CPU, memory, per-interface counters, connections and processes."""
    import psutil

    mem = psutil.virtual_memory()
    nics = psutil.net_io_counters(pernic=True)
    try:
        conns = len(psutil.net_connections(kind="inet"))
    except (psutil.AccessDenied, OSError):
        conns = -1
    return {
        "node": node,
        "t": time.time(),
        "cpu_pct": psutil.cpu_percent(interval=None),
        "mem_pct": mem.percent,
        "mem_used_bytes": int(mem.total - mem.available),
        "connections": conns,
        "processes": _processes_in_netns(inode),
        "ifaces": {
            name: {
                "rx_bytes": c.bytes_recv,
                "tx_bytes": c.bytes_sent,
                "errors": c.errin + c.errout,
                "discards": c.dropin + c.dropout,
            }
            for name, c in nics.items()
            if name != "lo"
        },
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m monitors.hostagent",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--node", required=True, help="the model name of this host")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between samples (default 1)")
    ap.add_argument("--cycles", type=int, default=10**9, help="stop after this many samples")
    args = ap.parse_args(argv)
    import psutil

    psutil.cpu_percent(interval=None)  # prime the CPU counter
    inode = _own_netns()
    start = time.monotonic()
    try:
        for k in range(args.cycles):
            time.sleep(max(0.0, start + (k + 1) * args.interval - time.monotonic()))
            print(json.dumps(sample(args.node, inode)), flush=True)
    except (KeyboardInterrupt, BrokenPipeError):
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
