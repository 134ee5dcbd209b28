"""The slot table on the steering points: nexthop groups, per-member pin tables, session pinning rules."""

from __future__ import annotations

import json
import threading

from firewall.pair_ns import ns_run
from firewall.pair_state import PairState

NH_BASE = 200_000  # far above FRR zebra's own nexthop ids
GROUP_ID = 201_000
PIN_TABLE = 100  # routing table (and rule priority) of member i's pinned sessions: PIN_TABLE + i


class PairSteering(PairState):
    """Puts the controller's slot table on every steering point."""

    applies: int
    _rules: dict[str, set[int]]  # per steering point, members whose pin rule is installed
    _macs: dict[str, str]

    # the table -----------------------------------------------------------------------------------
    def _member_macs(self) -> dict[str, str]:
        """MAC address of every member address a steering point uses (to tell members apart on a LAN)."""
        want = {v.gateway for p in self.plan.points for v in p.via}
        out: dict[str, str] = {}
        for m in self.plan.names:
            r = ns_run(self.emu.pid(m), ["ip", "-j", "addr"])
            for link in json.loads(r.stdout or "[]"):
                for a in link.get("addr_info", []):
                    if a.get("local") in want:
                        out[a["local"]] = link.get("address", "")
        return out

    def pin_ruleset(self, node: str) -> str:
        """nftables at a steering point: a session stays on the member that saw its first packet.

        A new connection is marked with the member it arrived from (incoming) or was sent to (outgoing,
        chosen by the slot hash); every later packet carries that mark and is routed by the member's
        own table (`ip rule fwmark`), so both directions of a session cross one member. When a member
        leaves (failure, drain) its rule goes and its sessions fall back to the slot table; the member
        that takes them over already holds their state (conntrackd)."""
        p = next(x for x in self.plan.points if x.node == node)
        shared_dev = len({v.dev for v in p.via}) < len(p.via)
        pre, post = [], []
        for i, v in enumerate(p.via):
            mark = i + 1
            if shared_dev:
                pre.append(
                    f"    ct state new ether saddr {self._macs.get(v.gateway, '00:00:00:00:00:00')} "
                    f"ct mark set {mark}"
                )
                post.append(f"    ct mark 0 ct state new rt ip nexthop {v.gateway} ct mark set {mark}")
            else:
                pre.append(f'    ct state new iifname "{v.dev}" ct mark set {mark}')
                post.append(f'    ct mark 0 ct state new oifname "{v.dev}" ct mark set {mark}')
        return "\n".join(
            [
                "table ip govnet_steer {",
                "  chain pre {",
                "    type filter hook prerouting priority mangle; policy accept;",
                *pre,
                "    meta mark set ct mark",
                "  }",
                "  chain out {",
                "    type route hook output priority mangle; policy accept;",
                "    meta mark set ct mark",
                "  }",
                "  chain post {",
                "    type filter hook postrouting priority mangle; policy accept;",
                *post,
                "  }",
                "}",
                "",
            ]
        )

    def batch(self, node: str) -> str:
        """The `ip -batch` text that puts the current slot table on one steering point."""
        p = next(x for x in self.plan.points if x.node == node)
        lines = []
        for i, member in enumerate(self.table.slots):
            v = p.via_for(member)
            lines.append(f"nexthop replace id {NH_BASE + i} via {v.gateway} dev {v.dev}")
        lines.append(
            f"nexthop replace id {GROUP_ID} group "
            + "/".join(str(NH_BASE + i) for i in range(len(self.table.slots)))
        )
        lines += [f"route replace {prefix} nhid {GROUP_ID}" for prefix in p.prefixes]
        # per-member tables for pinned sessions; a member out of service loses its rule
        installed = self._rules.setdefault(node, set())
        for i, v in enumerate(p.via):
            if i in installed:
                lines.append(f"rule del fwmark {i + 1} lookup {PIN_TABLE + i}")
                installed.discard(i)
            lines += [
                f"route replace {prefix} via {v.gateway} dev {v.dev} table {PIN_TABLE + i}"
                for prefix in p.prefixes
            ]
            lines += [f"route replace throw {prefix} table {PIN_TABLE + i}" for prefix in p.own_side]
            if self.members[v.member].state == "active":
                lines.append(f"rule add fwmark {i + 1} lookup {PIN_TABLE + i} priority {PIN_TABLE + i}")
                installed.add(i)
        return "\n".join(lines) + "\n"

    def apply(self) -> None:
        """Write the table to every steering point at once (in parallel); errors name the point."""
        with self._lock:
            jobs = {p.node: self.batch(p.node) for p in self.plan.points}
        errors: dict[str, str] = {}

        def one(node: str, text: str) -> None:
            r = ns_run(self.emu.pid(node), ["ip", "-force", "-batch", "-"], stdin=text)
            if r.returncode != 0:
                errors[node] = (r.stderr or r.stdout).strip()[-300:]

        threads = [threading.Thread(target=one, args=kv) for kv in jobs.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.applies += 1
        if errors:
            self.log(
                f"fw: applying the slot table failed on {', '.join(errors)}: {next(iter(errors.values()))}"
            )
