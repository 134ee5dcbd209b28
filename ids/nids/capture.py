"""Live capture on a raw AF_PACKET socket with an in-kernel classic BPF filter (Linux, root).

The socket is opened with protocol 0 (it receives nothing), the filter is attached, and only then
is it bound to the interface with ETH_P_ALL — so no unfiltered frame is ever queued. The default
filter keeps IPv4, IPv6 and VLAN-tagged frames that are not the host's own outgoing ones (on `lo`
that also removes the duplicate copy of every packet). A large receive buffer absorbs bursts, and
PACKET_STATISTICS reports what the kernel dropped because we fell behind.
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import struct
import time
from collections.abc import Iterator, Sequence

from ids.nids.pcap import PcapError

SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_ATTACH_FILTER = 26
SO_RCVBUFFORCE = 33
ETH_P_ALL = 0x0003
_SKF_AD_PKTTYPE = 0xFFFFF000 + 4  # SKF_AD_OFF + SKF_AD_PKTTYPE: the skb's packet type
PACKET_OUTGOING = 4

# (code, jt, jf, k) instructions, as `tcpdump -dd` prints them.
BpfProgram = Sequence[tuple[int, int, int, int]]

_LD_W_ABS, _LDH_ABS, _JEQ_K, _RET_K = 0x20, 0x28, 0x15, 0x06
DEFAULT_FILTER: BpfProgram = (
    (_LD_W_ABS, 0, 0, _SKF_AD_PKTTYPE),  # 0: A = packet type
    (_JEQ_K, 5, 0, PACKET_OUTGOING),  # 1: our own outgoing frame -> drop
    (_LDH_ABS, 0, 0, 12),  # 2: A = ethertype
    (_JEQ_K, 4, 0, 0x0800),  # 3: IPv4 -> accept
    (_JEQ_K, 3, 0, 0x86DD),  # 4: IPv6 -> accept
    (_JEQ_K, 2, 0, 0x8100),  # 5: 802.1Q -> accept
    (_JEQ_K, 1, 0, 0x88A8),  # 6: 802.1ad -> accept
    (_RET_K, 0, 0, 0),  # 7: drop
    (_RET_K, 0, 0, 0x40000),  # 8: accept (up to 256 KiB)
)


# For a tap on a forwarding interface (a router's or firewall's link, a bridge port): both
# directions. Forwarded frames leaving the interface are PACKET_OUTGOING and are traffic to inspect.
BOTH_DIRECTIONS_FILTER: BpfProgram = (
    (_LDH_ABS, 0, 0, 12),  # 0: A = ethertype
    (_JEQ_K, 4, 0, 0x0800),  # 1: IPv4 -> accept
    (_JEQ_K, 3, 0, 0x86DD),  # 2: IPv6 -> accept
    (_JEQ_K, 2, 0, 0x8100),  # 3: 802.1Q -> accept
    (_JEQ_K, 1, 0, 0x88A8),  # 4: 802.1ad -> accept
    (_RET_K, 0, 0, 0),  # 5: drop
    (_RET_K, 0, 0, 0x40000),  # 6: accept (up to 256 KiB)
)


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class CaptureError(PcapError):
    """A live capture cannot be opened (no such interface, not root, filter refused)."""


class Capture:
    """A raw AF_PACKET capture on one interface; iterate `frames()` for (timestamp, frame) pairs."""

    def __init__(
        self,
        iface: str,
        *,
        bpf: BpfProgram | None = DEFAULT_FILTER,
        rcvbuf: int = 64 << 20,
        snaplen: int = 65535,
    ) -> None:
        self.iface = iface
        self.snaplen = snaplen
        self.kernel_packets = 0
        self.kernel_drops = 0
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise CaptureError(f"capture on {iface}: raw sockets need root (CAP_NET_RAW)") from None
        try:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf)
            except PermissionError:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if bpf is not None:
                attach_filter(self.sock, bpf)
            self.sock.bind((iface, ETH_P_ALL))
        except OSError as exc:
            self.sock.close()
            raise CaptureError(f"capture on {iface}: {exc.strerror or exc}") from None
        self.sock.setblocking(False)
        self.rcvbuf = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def frames(self, timeout: float = 0.2) -> Iterator[tuple[float, bytes]]:
        """Frames ready now, or within `timeout` seconds; returns when the socket is drained."""
        sock = self.sock
        if not select.select([sock], [], [], timeout)[0]:
            return
        recv = sock.recv
        now = time.time
        size = self.snaplen
        while True:
            try:
                frame = recv(size)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            yield now(), frame

    def statistics(self) -> tuple[int, int]:
        """Cumulative (packets that passed the filter, packets the kernel dropped) since opening."""
        got, dropped = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        self.kernel_packets += got  # the kernel resets its counters on every read
        self.kernel_drops += dropped
        return self.kernel_packets, self.kernel_drops

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def attach_filter(sock: socket.socket, program: BpfProgram) -> None:
    """Attach a classic BPF program (SO_ATTACH_FILTER); OSError if the kernel refuses it."""
    insns = (_SockFilter * len(program))(*(_SockFilter(c, jt, jf, k) for c, jt, jf, k in program))
    fprog = struct.pack("HL", len(program), ctypes.addressof(insns))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def is_root() -> bool:
    return os.geteuid() == 0
