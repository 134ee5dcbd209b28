"""Commands and sockets inside the network namespace of a firewall member or a steering point."""

from __future__ import annotations

import json
import socket
import subprocess
from typing import TYPE_CHECKING

from firewall.errors import FirewallError
from govnet import netns

if TYPE_CHECKING:
    from topology.emulator.handle import EmulatorHandle


def socket_in_netns(pid: int, family: int, kind: int, proto: int) -> socket.socket:
    """A socket created inside the network namespace of `pid` (FirewallError if it cannot be)."""
    try:
        return netns.socket_in_netns(pid, family, kind, proto)
    except OSError as exc:
        raise FirewallError(f"cannot open a probe socket in namespace of pid {pid}: {exc}") from None


def ns_run(
    pid: int, argv: list[str], stdin: str = "", timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", "--", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def member_devices(emu: EmulatorHandle, member: str) -> list[str]:
    r = ns_run(emu.pid(member), ["ip", "-j", "link"])
    return [x["ifname"] for x in json.loads(r.stdout or "[]") if x.get("ifname") != "lo"]
