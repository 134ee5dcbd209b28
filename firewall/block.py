"""Source blocks on the emulated firewalls: a timed nftables set that the login audit fills.

    block = FirewallBlock(emu)                  # every firewall of the model (or nodes=[...])
    block.install()                             # table inet govnet_block on each
    auditor = Auditor(policy, ledger=ledger, hooks=[block, ...])
    ...
    block.close()                               # the tables go

Each firewall gets its own table `inet govnet_block`: a set `sources` (IPv4, `flags timeout`) and
two chains, forward and input, at priority -10. That is before the zone policy's filter (priority
0), so a blocked source is dropped whatever the zones allow. The table is apart from `inet govnet`
(the zone policy), so the pair controller's ruleset-parity hash and atomic reloads never touch it.
A block carries its own timeout in the set element: the kernel lifts it on time even if govnet has
died. A block without an end is an element without a timeout. Every node gets the same element, so
all members of a pair and every firewall on any path drop the source. `block()` returns once every
firewall has it.

How a script reaches a firewall: by default `nsenter` into its namespace (`nft -f -`); with
`push=` (e.g. `monitors.devcli.CliPush(...).push`), over the device's management SSH from the NOC,
as an operator's automation would. The NIDS's blocks take the SSH path in labs (`via` says which).

An `Enforcer` for `ids.audit` (`apply(decision)`: `block_source` decisions; other kinds are left
to other hooks). Each action is kept in `applied`, with the decision's time, so the delay from
threshold to effect can be measured, as `ids.labsshd.LabSshdEnforcer` does.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from govnet.errors import GovnetError

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle

TABLE = "govnet_block"
PRIORITY = -10


class BlockError(GovnetError):
    """A firewall refused the block table or an element."""


class _Decision(Protocol):  # ids.audit.Decision, read-only
    @property
    def kind(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def until(self) -> float | None: ...


@dataclass(frozen=True)
class Applied:
    kind: str  # block_source, unblock_source
    subject: str
    applied_at: float
    decided_at: float | None = None
    until: float | None = None
    nodes: tuple[str, ...] = ()

    @property
    def delay(self) -> float | None:
        return None if self.decided_at is None else self.applied_at - self.decided_at


def ruleset() -> str:
    """The block table, created fresh: declare it (so the delete cannot fail), delete it, define it."""
    return (
        f"table inet {TABLE}\n"
        f"delete table inet {TABLE}\n"
        f"table inet {TABLE} {{\n"
        "  set sources { type ipv4_addr; flags timeout; }\n"
        f"  chain forward {{ type filter hook forward priority {PRIORITY}; policy accept;\n"
        '    ip saddr @sources counter drop comment "govnet audit: blocked source"\n  }\n'
        f"  chain input {{ type filter hook input priority {PRIORITY}; policy accept;\n"
        '    ip saddr @sources counter drop comment "govnet audit: blocked source"\n  }\n'
        "}\n"
    )


def _address(text: str) -> str:
    try:
        addr = ipaddress.IPv4Address(text)
    except ValueError:
        raise BlockError(f"cannot block {text!r}: not an IPv4 address") from None
    return str(addr)


class FirewallBlock:
    """Timed source blocks on a set of emulated firewall nodes."""

    KINDS = frozenset({"block_source"})

    def __init__(
        self,
        emu: EmulatorHandle,
        nodes: Sequence[str] | None = None,
        clock: Callable[[], float] = time.time,
        push: Callable[[str, str], None] | None = None,
    ) -> None:
        self.emu = emu
        self.nodes = (
            list(nodes) if nodes is not None else [n.name for n in emu.model.nodes if n.kind == "firewall"]
        )
        if not self.nodes:
            raise BlockError(f"model {emu.model.name} has no firewall to block sources on")
        self.clock = clock
        self.push = push  # (node, nft script): e.g. monitors.devcli.CliPush over SSH; default nsenter
        self.via = "ssh" if push is not None else "nsenter"
        self.applied: list[Applied] = []

    def _nft(self, node: str, script: str) -> str:
        if self.push is not None:
            try:
                self.push(node, script)
            except (RuntimeError, OSError) as exc:
                raise BlockError(str(exc)) from None
            return ""
        r = subprocess.run(
            ["nsenter", f"--net=/proc/{self.emu.pid(node)}/ns/net", "--", "nft", "-f", "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if r.returncode != 0:
            raise BlockError(f"{node}: nft refused the block ({r.stderr.strip()[:300]})")
        return r.stdout

    def install(self) -> None:
        for node in self.nodes:
            self._nft(node, ruleset())

    def close(self) -> None:
        for node in self.nodes:
            try:
                self._nft(node, f"table inet {TABLE}\ndelete table inet {TABLE}\n")
            except (BlockError, OSError, subprocess.SubprocessError):
                continue  # the node may be gone already

    def apply(self, decision: _Decision) -> None:
        if decision.kind == "block_source":
            self.block(decision.subject, decision.until, decided_at=decision.at)

    def block(self, source: str, until: float | None = None, *, decided_at: float | None = None) -> Applied:
        addr = _address(source)
        now = self.clock()
        if until is not None and until <= now:
            raise BlockError(f"block of {addr} ends in the past ({until:.0f} <= {now:.0f})")
        timeout = f" timeout {max(1, round(until - now))}s" if until is not None else ""
        for node in self.nodes:
            # replace an existing element, so a longer (repeat-offender) block is not cut short
            self._nft(
                node,
                f"add element inet {TABLE} sources {{ {addr} }}\n"
                f"delete element inet {TABLE} sources {{ {addr} }}\n"
                f"add element inet {TABLE} sources {{ {addr}{timeout} }}\n",
            )
        done = Applied("block_source", addr, self.clock(), decided_at, until, tuple(self.nodes))
        self.applied.append(done)
        return done

    def unblock(self, source: str) -> Applied:
        addr = _address(source)
        for node in self.nodes:
            self._nft(
                node,
                f"add element inet {TABLE} sources {{ {addr} }}\n"
                f"delete element inet {TABLE} sources {{ {addr} }}\n",
            )
        done = Applied("unblock_source", addr, self.clock(), nodes=tuple(self.nodes))
        self.applied.append(done)
        return done

    def blocked(self, node: str | None = None) -> dict[str, int | None]:
        """Blocked address -> seconds left (None: no end), as the kernel has it on `node`."""
        node = node or self.nodes[0]
        r = subprocess.run(
            [
                "nsenter",
                f"--net=/proc/{self.emu.pid(node)}/ns/net",
                "--",
                "nft",
                "-j",
                "list",
                "set",
                "inet",
                TABLE,
                "sources",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if r.returncode != 0:
            raise BlockError(f"{node}: cannot list the block set ({r.stderr.strip()[:200]})")
        out: dict[str, int | None] = {}
        for item in json.loads(r.stdout).get("nftables", []):
            for elem in item.get("set", {}).get("elem", []):
                if isinstance(elem, dict) and "elem" in elem:
                    e = elem["elem"]
                    out[str(e["val"])] = e.get("expires")
                else:
                    out[str(elem)] = None
        return out
