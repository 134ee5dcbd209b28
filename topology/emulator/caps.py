"""What this machine's kernel can emulate, probed once in a throw-away network namespace.

Each probe runs under `unshare -n`, so it touches nothing outside a namespace that vanishes when
the probe exits. Without root the probes cannot run and report "unknown".
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

from govnet.errors import CapabilityError
from topology.model import Network

_PROBES: dict[str, tuple[str, str]] = {
    # name: (shell run inside a fresh netns, what it means for govnet)
    "htb": (
        "ip link add p0 type veth peer name p1 && tc qdisc add dev p0 root handle 5: htb default 1",
        "link rates (bw_mbps) via HTB",
    ),
    "netem": (
        "ip link add p0 type veth peer name p1 && tc qdisc add dev p0 root netem delay 1ms",
        "link delay_ms / loss_pct",
    ),
    "vlan_8021q": (
        "ip link add p0 type veth peer name p1 && ip link add link p0 name p0.10 type vlan id 10",
        "802.1Q tagged trunks (govnet uses per-VLAN bridges instead)",
    ),
    "bridge_vlan_filtering": (
        "ip link add b0 type bridge vlan_filtering 1",
        "VLAN-aware Linux bridges (govnet uses per-VLAN bridges instead)",
    ),
    "bonding": ("ip link add b0 type bond", "LAG bonding (govnet models members as ECMP links)"),
    "nexthop_groups": (
        "ip link add p0 type veth peer name p1 && ip link set p0 up && ip link set p1 up && "
        "ip addr add 10.0.0.1/24 dev p0 && ip nexthop add id 1 via 10.0.0.2 dev p0",
        "nexthop objects (used by FRR for fast re-routing)",
    ),
    "nftables": ("nft add table inet t", "firewall zone policy"),
}


@dataclass(frozen=True)
class Capabilities:
    """Probe results: True works, False absent, None unknown (not root / tool missing)."""

    root: bool
    results: dict[str, bool | None]
    tools: dict[str, bool]

    def has(self, name: str) -> bool:
        return bool(self.results.get(name))

    def summary(self) -> str:
        """One line: what this kernel cannot emulate, and what govnet does instead."""
        missing = [n for n, r in self.results.items() if r is False]
        if not self.root:
            return "capabilities unknown (not root)"
        if not missing:
            return "this kernel can emulate everything govnet uses"
        return "this kernel lacks: " + ", ".join(f"{n} ({_PROBES[n][1]})" for n in missing)

    def table(self) -> str:
        rows = [f"{'capability':24} {'here':8} used for"]
        for name, (_cmd, meaning) in _PROBES.items():
            r = self.results.get(name)
            state = "yes" if r else "unknown" if r is None else "NO"
            rows.append(f"{name:24} {state:8} {meaning}")
        for tool, ok in self.tools.items():
            rows.append(f"{'tool ' + tool:24} {'yes' if ok else 'NO':8}")
        return "\n".join(rows)


_TOOLS = {
    "mininet": "mn",
    "frr": "/usr/lib/frr/ospfd",
    "iperf3": "iperf3",
    "nft": "nft",
    "brctl": "brctl",
    "tc": "tc",
}


@functools.lru_cache(maxsize=1)
def detect() -> Capabilities:
    """Probe the kernel once per process."""
    root = os.geteuid() == 0
    results: dict[str, bool | None] = {}
    for name, (cmd, _meaning) in _PROBES.items():
        if not root or shutil.which("unshare") is None:
            results[name] = None
            continue
        proc = subprocess.run(
            ["unshare", "-n", "sh", "-c", cmd], capture_output=True, timeout=20, check=False
        )
        results[name] = proc.returncode == 0
    tools = {
        t: (os.path.exists(p) if p.startswith("/") else shutil.which(p) is not None)
        for t, p in _TOOLS.items()
    }
    return Capabilities(root, results, tools)


def require_for(net: Network, caps: Capabilities) -> None:
    """Refuse a model that asks for what this kernel cannot emulate; never drop it silently."""
    problems = []
    if not caps.has("netem"):
        for lk in net.links:
            for fld in ("delay_ms", "loss_pct"):
                if getattr(lk, fld):
                    problems.append(
                        f"link {lk.name}: {fld}={getattr(lk, fld)} needs netem, which this kernel lacks"
                    )
    if not caps.has("htb"):
        problems.append("HTB shaping is unavailable: link rates cannot be emulated")
    missing = [t for t in ("mininet", "frr", "tc", "brctl") if not caps.tools.get(t)]
    if missing:
        problems.append(f"missing tools: {', '.join(missing)} (run 'make setup' as root)")
    if problems:
        raise CapabilityError(
            "cannot emulate this model here:\n  "
            + "\n  ".join(problems)
            + "\n(set delay_ms/loss_pct to 0 on this machine, or run on a kernel with sch_netem)"
        )
