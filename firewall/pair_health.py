"""Health probes of the firewall pair: ICMP from every steering point and over the sync LAN, failover."""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
import time
from typing import Any

from firewall.pair_ns import socket_in_netns
from firewall.pair_state import PairState


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    payload = b"govnet-fw-probe"
    return struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, seq) + payload


class PairHealth(PairState):
    """Probes every member every `interval`; a member silent for `misses` probes loses its slots."""

    _last_ok: dict[tuple[str, str], float]
    _sync_ok: dict[tuple[str, str], float]

    # probes --------------------------------------------------------------------------------------
    def _open_probes(self) -> None:
        self._probe_socks: list[
            tuple[socket.socket, str, dict[str, str]]
        ] = []  # (sock, owner, addr -> member)
        for p in self.plan.points:
            s = socket_in_netns(self.emu.pid(p.node), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setblocking(False)
            self._socks.append(s)
            self._probe_socks.append((s, p.node, {v.gateway: v.member for v in p.via}))
        for m in self.plan.members:
            if not m.sync_addr:
                continue
            s = socket_in_netns(self.emu.pid(m.name), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            s.setblocking(False)
            self._socks.append(s)
            peers = {
                o.sync_addr.split("/")[0]: o.name
                for o in self.plan.members
                if o.name != m.name and o.sync_addr
            }
            self._probe_socks.append((s, "sync:" + m.name, peers))

    def _probe_loop(self) -> None:
        seq = 0
        ident = os.getpid() & 0xFFFF
        while not self._stop.is_set():
            tick = time.monotonic()
            seq = (seq + 1) & 0xFFFF
            pkt = echo_request(ident, seq)
            for s, _owner, targets in self._probe_socks:
                for addr in targets:
                    with contextlib.suppress(OSError):
                        s.sendto(pkt, (addr, 0))
            deadline = tick + self.interval
            while (left := deadline - time.monotonic()) > 0:
                ready, _, _ = select.select([x[0] for x in self._probe_socks], [], [], left)
                now = time.monotonic()
                for s in ready:
                    owner, targets = next((o, t) for x, o, t in self._probe_socks if x is s)
                    while True:
                        try:
                            data, (src, _port) = s.recvfrom(2048)
                        except (BlockingIOError, OSError):
                            break
                        ihl = (data[0] & 0x0F) * 4 if data else 0
                        if len(data) < ihl + 8 or data[ihl] != 0:
                            continue
                        rid = struct.unpack("!H", data[ihl + 4 : ihl + 6])[0]
                        if rid != ident or src not in targets:
                            continue
                        if owner.startswith("sync:"):
                            self._sync_ok[(owner[5:], targets[src])] = now
                        else:
                            self._last_ok[(owner, targets[src])] = now
            try:
                self._judge()
            except Exception as exc:  # the controller must outlive any one bad decision
                self.log(f"fw controller: {exc}")

    def _healthy(self, member: str) -> bool:
        limit = self.misses * self.interval + self.interval / 2
        now = time.monotonic()
        return all(now - self._last_ok.get((p.node, member), 0.0) <= limit for p in self.plan.points)

    def _judge(self) -> None:
        limit = self.misses * self.interval + self.interval / 2
        now = time.monotonic()
        changed = False
        for m in self.plan.names:
            ages = {p.node: now - self._last_ok.get((p.node, m), 0.0) for p in self.plan.points}
            dead_at = [n for n, a in ages.items() if a > limit]
            ms = self.members[m]
            if dead_at and len(dead_at) < len(ages):
                self._alarm(f"probe_disagreement:{m}", member=m, silent_at=dead_at)
            elif not dead_at:
                self._clear(f"probe_disagreement:{m}")
            if dead_at and ms.state == "active":
                with self._lock:
                    survivors = [x for x in self.plan.names if x != m and self.members[x].state == "active"]
                    if not survivors:
                        self._alarm("no_survivor", member=m)
                        continue
                    moved = self.table.remove(m, survivors)
                    ms.state, ms.since = "failed", time.time()
                changed = True
                silent = max(ages[n] for n in dead_at)
                self._event(
                    "fw",
                    action="failover",
                    member=m,
                    silent_s=round(silent, 3),
                    moved_slots=len(moved),
                    to=survivors,
                )
            elif not dead_at and ms.state == "failed":
                ms.state, ms.since = "ready", time.time()
                self._event(
                    "fw",
                    action="recovered",
                    member=m,
                    note="healthy again; 'govnet fw add' returns it to service",
                )
        if changed:
            self.apply()
        # sync LAN: every pair of healthy members must hear each other
        health = self._sync_health()
        if health["state"] == "dead":
            self._alarm("sync_dead", pairs=health["dead_pairs"])
            if sum(1 for s in self.members.values() if s.state == "active") > 1:
                self._alarm("split_brain", note="members carry traffic without shared state")
        else:
            self._clear("sync_dead")
            self._clear("split_brain")

    def _sync_health(self) -> dict[str, Any]:
        limit = max(1.0, self.misses * self.interval * 3)
        now = time.monotonic()
        dead = [
            f"{a}->{b}"
            for (a, b), t in self._sync_ok.items()
            if now - t > limit and self._healthy(a) and self._healthy(b)
        ]
        return {"state": "dead" if dead else "ok", "dead_pairs": dead}
