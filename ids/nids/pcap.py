"""Capture files: classic libpcap (both byte orders, µs and ns timestamps) and pcapng, read and write.

`read_pcap(path)` yields `(timestamp, frame bytes, linktype)`; a file that is not a capture raises
`PcapError` naming it, and a truncated last record ends the iteration quietly (a capture cut short by
a crash is still readable up to the cut).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from govnet.errors import IdsError

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

Frame = tuple[float, bytes, int]


class PcapError(IdsError):
    """A capture file cannot be opened or is not in a format we read."""


def read_pcap(path: str | os.PathLike[str]) -> Iterator[Frame]:
    """Frames of a pcap or pcapng file as (timestamp seconds, frame bytes, linktype)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed in the generator's finally
    except OSError as exc:
        raise PcapError(f"{path}: cannot open capture: {exc.strerror or exc}") from None
    head = fh.read(24)
    if head[:4] in _MAGICS:
        if len(head) < 24:
            fh.close()
            raise PcapError(f"{path}: truncated pcap header ({len(head)} of 24 bytes)")
        return _classic(fh, head)
    if head[:4] == _PCAPNG_SHB:
        fh.seek(0)
        return _pcapng(fh, str(path))
    fh.close()
    raise PcapError(
        f"{path}: not a pcap or pcapng file (magic {head[:4].hex() or 'missing'}); "
        "write captures with tcpdump -w or scapy's wrpcap"
    )


def _classic(fh: BinaryIO, head: bytes) -> Iterator[Frame]:
    order, unit = _MAGICS[head[:4]]
    linktype = struct.unpack(order + "I", head[20:24])[0] & 0x0FFFFFFF
    rec = struct.Struct(order + "IIII")
    size = rec.size
    read = fh.read
    unpack = rec.unpack
    try:
        while True:
            hdr = read(size)
            if len(hdr) < size:
                return
            sec, frac, incl, _orig = unpack(hdr)
            if incl > 0x4000000:  # 64 MiB: a corrupt record, not a frame
                return
            data = read(incl)
            if len(data) < incl:
                return
            yield sec + frac * unit, data, linktype
    finally:
        fh.close()


def _pcapng(fh: BinaryIO, name: str) -> Iterator[Frame]:
    order = "<"
    ifaces: list[tuple[int, float]] = []
    try:
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return
            btype_raw = hdr[:4]
            if btype_raw == _PCAPNG_SHB:
                bom = fh.read(4)
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(order + "I", hdr[4:8])[0]
                body = bom + fh.read(blen - 12) if blen >= 12 else b""
                ifaces = []
            else:
                blen = struct.unpack(order + "I", hdr[4:8])[0]
                if blen < 12 or blen > 0x4000000:
                    return
                body = fh.read(blen - 8)
            if len(body) < blen - 8:
                return
            btype = struct.unpack(order + "I", btype_raw)[0]
            if btype == 1 and len(body) >= 8:  # interface description
                link = struct.unpack(order + "H", body[:2])[0]
                ifaces.append((link, _tsresol(body[8 : blen - 12], order)))
            elif btype == 6 and len(body) >= 20:  # enhanced packet
                iid, hi, lo, incl, _orig = struct.unpack(order + "IIIII", body[:20])
                link, unit = ifaces[iid] if iid < len(ifaces) else (1, 1e-6)
                yield ((hi << 32) | lo) * unit, body[20 : 20 + incl], link
            elif btype == 3 and len(body) >= 4:  # simple packet
                link = ifaces[0][0] if ifaces else 1
                orig = struct.unpack(order + "I", body[:4])[0]
                yield 0.0, body[4 : 4 + min(orig, len(body) - 8)], link
    finally:
        fh.close()


def _tsresol(opts: bytes, order: str) -> float:
    i = 0
    while i + 4 <= len(opts):
        code, olen = struct.unpack(order + "HH", opts[i : i + 4])
        if code == 0:
            break
        if code == 9 and olen >= 1:
            v = opts[i + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -(v & 0x7F)
        i += 4 + ((olen + 3) & ~3)
    return 1e-6


class PcapWriter:
    """Writes a classic little-endian microsecond pcap (what tcpdump -r, wireshark and we read)."""

    def __init__(self, path: str | os.PathLike[str], linktype: int = 1, snaplen: int = 262144) -> None:
        self.path = Path(path)
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed by close()/__exit__
        self._fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        self._rec = struct.Struct("<IIII")

    def write(self, ts: float, frame: bytes) -> None:
        sec = int(ts)
        usec = round((ts - sec) * 1e6)
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        self._fh.write(self._rec.pack(sec, usec, len(frame), len(frame)))
        self._fh.write(frame)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> PcapWriter:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
