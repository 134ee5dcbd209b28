"""The off-site copy's transfer plan: which host serves, which pulls, how fast, whether it fits the window.

Pure: it reads the network model the caller passes in (a `topology.Network`, typed here by the few
attributes used, since backup_hsm does not import topology) and does no I/O. The lab runner executes
the plan with `backup_hsm.transfer` in the two emulated hosts (`plan.commands(...)` gives the argv).

- Source: the host named `srv-backup`, else `srv-file` (the file server holds the HSM store), else the
  first server in the servers zone.
- Destination: a host at another site whose zone may open connections to the source's zone (the
  firewall policy is stateful and lets nothing start from the servers zone, so the off-site host
  pulls). Preferred: a name with "backup" or "offsite"; then hosts of ordinary sites (not bureaus,
  DMZ or internet); then bureau hosts; the farthest by hops first, then by name.
- Path and rate: the fewest-hops path over the model's links (OSPF with equal costs picks the same
  length); its slowest link is the bottleneck. The copy is paced to `share` of it (default 50 %,
  leaving room for the night's other traffic), so duration = bytes * 8 / rate.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from backup_hsm.backup import Window
from backup_hsm.errors import HsmInputError

DEFAULT_PORT = 9100
BACKUP_WINDOW = Window(22.0, 3.0)  # the Scheduler's default backup window
_EDGE_SITES = ("dmz", "internet")


class NodeLike(Protocol):
    """The node attributes the plan reads (topology.Node has them)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def site(self) -> str: ...
    @property
    def zone(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def addr(self) -> str: ...


class LinkLike(Protocol):
    """The link attributes the plan reads (topology.Link has them)."""

    @property
    def a(self) -> str: ...
    @property
    def b(self) -> str: ...
    @property
    def bw_mbps(self) -> float: ...


class NetworkLike(Protocol):
    """The model the plan reads (topology.Network)."""

    @property
    def name(self) -> str: ...
    @property
    def nodes(self) -> Sequence[NodeLike]: ...
    @property
    def links(self) -> Sequence[LinkLike]: ...
    @property
    def policy(self) -> Sequence[tuple[str, str]]: ...


@dataclass(frozen=True)
class TransferPlan:
    """One off-site copy: endpoints, path, pacing and timing."""

    job: str
    bytes: int
    sha256: str
    source: str
    source_addr: str
    destination: str
    destination_addr: str
    port: int
    path: tuple[str, ...]
    bottleneck_mbps: float
    rate_mbps: float
    start_s: float  # seconds after midnight the copy starts
    duration_s: float
    window_end_s: float  # seconds after midnight (may exceed 86400: the window crosses midnight)

    @property
    def fits(self) -> bool:
        """Whether the copy ends inside its window."""
        return self.start_s + self.duration_s <= self.window_end_s

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**asdict(self), "path": list(self.path), "fits": self.fits}

    def commands(
        self, archive: str, out_dir: str, key_file: str, python: str = sys.executable
    ) -> dict[str, list[str]]:
        """The argv to run in the source host (first, it listens) and then in the destination host;
        both read the shared key in `key_file` (make it with `python -m backup_hsm.transfer keygen`)."""
        serve = [python, "-m", "backup_hsm.transfer", "serve", archive, "--key-file", key_file]
        serve += ["--bind", self.source_addr, "--port", str(self.port), "--rate-mbps", f"{self.rate_mbps:g}"]
        pull = [python, "-m", "backup_hsm.transfer", "pull", "--key-file", key_file]
        pull += ["--from", f"{self.source_addr}:{self.port}"]
        pull += ["--out", out_dir, "--expect-sha256", self.sha256]
        return {self.source: serve, self.destination: pull}


def _bad(field: str, message: str, got: object, fix: str) -> HsmInputError:
    return HsmInputError("offsite plan", field, message, got, fix)


def _hosts(net: NetworkLike) -> dict[str, NodeLike]:
    return {n.name: n for n in net.nodes if n.role == "host" and n.addr}


def pick_source(net: NetworkLike) -> NodeLike:
    """The host that holds the backups."""
    hosts = _hosts(net)
    for name in ("srv-backup", "srv-file"):
        if name in hosts:
            return hosts[name]
    servers = sorted((n for n in hosts.values() if n.zone == "servers"), key=lambda n: n.name)
    if not servers:
        raise _bad(
            "source", "the model has no server to back up from", net.name, "add srv-file to a servers LAN"
        )
    return servers[0]


def _path(net: NetworkLike, a: str, b: str) -> tuple[tuple[str, ...], float]:
    """The fewest-hops path from a to b and its slowest link (Mbit/s)."""
    adj: dict[str, list[tuple[str, float]]] = {}
    for lk in net.links:
        adj.setdefault(lk.a, []).append((lk.b, lk.bw_mbps))
        adj.setdefault(lk.b, []).append((lk.a, lk.bw_mbps))
    prev: dict[str, tuple[str, float]] = {}
    seen, todo = {a}, deque([a])
    while todo:
        here = todo.popleft()
        if here == b:
            break
        for nxt, bw in adj.get(here, []):
            if nxt not in seen:
                seen.add(nxt)
                prev[nxt] = (here, bw)
                todo.append(nxt)
    if b not in seen:
        raise _bad("destination", "no path between the hosts", f"{a} -> {b}", "check the model's links")
    path, slowest, here = [b], float("inf"), b
    while here != a:
        here, bw = prev[here]
        path.append(here)
        slowest = min(slowest, bw)
    return tuple(reversed(path)), slowest


def pick_destination(net: NetworkLike, source: NodeLike) -> NodeLike:
    """The off-site host (see the module docstring for the order)."""
    allowed = set(net.policy)
    cands = [
        n
        for n in _hosts(net).values()
        if n.site != source.site and (n.zone == source.zone or (n.zone, source.zone) in allowed)
    ]
    if not cands:
        raise _bad(
            "destination",
            "no host at another site may connect to the source",
            source.name,
            "add an off-site host whose zone may reach the servers zone",
        )

    def rank(n: NodeLike) -> tuple[int, int, str]:
        named = "backup" in n.name or "offsite" in n.name
        group = 0 if named else 3 if n.site in _EDGE_SITES else 2 if n.site.startswith("bureau-") else 1
        return group, -len(_path(net, source.name, n.name)[0]), n.name

    return min(cands, key=rank)


def plan_offsite(
    net: NetworkLike,
    job: str,
    size: int,
    sha256: str,
    window: Window = BACKUP_WINDOW,
    after_s: float = 0.0,
    share: float = 0.5,
    source: str | None = None,
    destination: str | None = None,
    port: int = DEFAULT_PORT,
) -> TransferPlan:
    """The transfer plan of one backup archive (`size` bytes) in a window, `after_s` into it."""
    if size < 0:
        raise _bad("bytes", "an archive size cannot be negative", size, "give the archive's size in bytes")
    if not 0 < share <= 1:
        raise _bad("share", "the share of the bottleneck must be in (0, 1]", share, "e.g. 0.5")
    hosts = _hosts(net)
    for field, name in (("source", source), ("destination", destination)):
        if name is not None and name not in hosts:
            raise _bad(field, "no such host in the model", name, f"use a host of {net.name}, e.g. srv-file")
    src = hosts[source] if source else pick_source(net)
    dst = hosts[destination] if destination else pick_destination(net, src)
    path, bottleneck = _path(net, src.name, dst.name)
    rate = bottleneck * share
    start = window.start_h * 3600 + after_s
    return TransferPlan(
        job=job,
        bytes=size,
        sha256=sha256,
        source=src.name,
        source_addr=src.addr.split("/")[0],
        destination=dst.name,
        destination_addr=dst.addr.split("/")[0],
        port=port,
        path=path,
        bottleneck_mbps=bottleneck,
        rate_mbps=rate,
        start_s=start,
        duration_s=size * 8 / (rate * 1e6),
        window_end_s=(window.start_h + window.hours) * 3600,
    )
