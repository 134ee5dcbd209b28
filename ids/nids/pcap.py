"""Capture files: classic libpcap (both byte orders, µs and ns timestamps) and pcapng, read and write.

`read_pcap(path)` returns a `Capture`: an iterator of `(timestamp, frame bytes, linktype)`. A file that
is not a capture raises `PcapError` naming it. Reading never stops silently:

- **damage** (`Capture.damage`): a record or block header that cannot be right — a classic record
  longer than the snap length (or 64 MiB), a pcapng block length of 0, under 12, not a multiple of 4
  or whose trailing copy differs, an enhanced packet longer than its block, bytes after the last
  block that are not a block. Reading stops there (nothing after a broken header can be trusted to
  be a frame boundary); the message names the file, the byte offset and the frame number, and
  `govnet ids scan` reports the alerts found so far, warns, and exits 2, whatever `--fail-on-alert`.
- **truncation** (`Capture.truncated`): the file ends inside its last record (a capture cut short by a
  crash or a full disk). The complete records are read; the scan warns but keeps its exit status.
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
MAX_RECORD = 0x4000000  # 64 MiB: no frame is that long; a header saying so is damage

Frame = tuple[float, bytes, int]


class PcapError(IdsError):
    """A capture file cannot be opened or is not in a format we read."""


class Capture:
    """The frames of one capture file, with what ended the reading if it was not a clean end."""

    def __init__(self, fh: BinaryIO, name: str, head: bytes) -> None:
        self.name = name
        self.frames = 0  # frames read so far
        self.damage = ""  # why reading stopped early (a broken header), or ""
        self.truncated = ""  # the file ends inside its last record, or ""
        self._fh = fh
        self._it = _classic(self, fh, head) if head[:4] in _MAGICS else _pcapng(self, fh)

    def __iter__(self) -> Capture:
        return self

    def __next__(self) -> Frame:
        frame = next(self._it)
        self.frames += 1
        return frame

    def close(self) -> None:
        self._fh.close()

    @property
    def problem(self) -> str:
        """The one-line warning for this capture (damage first), or ""."""
        return self.damage or self.truncated

    def _damaged(self, offset: int, why: str) -> None:
        self.damage = (
            f"{self.name}: damaged at byte {offset} (after frame {self.frames}): {why}; "
            "the rest of the file was not read"
        )

    def _cut(self, offset: int, why: str) -> None:
        self.truncated = f"{self.name}: truncated at byte {offset} (after frame {self.frames}): {why}"


def read_pcap(path: str | os.PathLike[str]) -> Capture:
    """Frames of a pcap or pcapng file as (timestamp seconds, frame bytes, linktype); see `Capture`."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed when the iteration ends
    except OSError as exc:
        raise PcapError(f"{path}: cannot open capture: {exc.strerror or exc}") from None
    head = fh.read(24)
    if head[:4] in _MAGICS:
        if len(head) < 24:
            fh.close()
            raise PcapError(f"{path}: truncated pcap header ({len(head)} of 24 bytes)")
        return Capture(fh, str(path), head)
    if head[:4] == _PCAPNG_SHB:
        fh.seek(0)
        return Capture(fh, str(path), head)
    fh.close()
    raise PcapError(
        f"{path}: not a pcap or pcapng file (magic {head[:4].hex() or 'missing'}); "
        "write captures with tcpdump -w or scapy's wrpcap"
    )


def _classic(cap: Capture, fh: BinaryIO, head: bytes) -> Iterator[Frame]:
    order, unit = _MAGICS[head[:4]]
    snaplen = struct.unpack(order + "I", head[16:20])[0]
    linktype = struct.unpack(order + "I", head[20:24])[0] & 0x0FFFFFFF
    # some writers put a snap length of 0 or less than what they wrote: trust it only as a ceiling
    limit = min(MAX_RECORD, max(snaplen, 262144))
    rec = struct.Struct(order + "IIII")
    size = rec.size
    read = fh.read
    unpack = rec.unpack
    offset = 24
    try:
        while True:
            hdr = read(size)
            if len(hdr) < size:
                if hdr:
                    cap._cut(offset, f"{len(hdr)} of {size} bytes of a record header")
                return
            sec, frac, incl, _orig = unpack(hdr)
            if incl > limit:
                cap._damaged(offset, f"a record header says {incl} bytes (snap length {snaplen})")
                return
            data = read(incl)
            if len(data) < incl:
                cap._cut(offset, f"{len(data)} of {incl} bytes of the last frame")
                return
            offset += size + incl
            yield sec + frac * unit, data, linktype
    finally:
        fh.close()


def _pcapng(cap: Capture, fh: BinaryIO) -> Iterator[Frame]:
    order = "<"
    ifaces: list[tuple[int, float]] = []
    offset = 0
    try:
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                if hdr:
                    cap._damaged(offset, f"{len(hdr)} trailing bytes that are not a block")
                return
            btype_raw = hdr[:4]
            if btype_raw == _PCAPNG_SHB:
                bom = fh.read(4)
                if bom not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                    cap._damaged(offset, "a section header with a bad byte-order magic")
                    return
                order = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                blen = struct.unpack(order + "I", hdr[4:8])[0]
                if blen < 28 or blen % 4 or blen > MAX_RECORD:
                    cap._damaged(offset, f"a section header block length of {blen}")
                    return
                body = bom + fh.read(blen - 12)
                ifaces = []
            else:
                blen = struct.unpack(order + "I", hdr[4:8])[0]
                if blen < 12 or blen % 4 or blen > MAX_RECORD:
                    cap._damaged(offset, f"a block length of {blen} (block type 0x{btype_raw.hex()})")
                    return
                body = fh.read(blen - 8)
            if len(body) < blen - 8:
                cap._cut(offset, f"{len(body) + 8} of {blen} bytes of the last block")
                return
            if body[-4:] != hdr[4:8]:
                cap._damaged(offset, f"the block's trailing length differs from its leading {blen}")
                return
            btype = struct.unpack(order + "I", btype_raw)[0]
            at = offset
            offset += blen
            if btype == 1 and len(body) >= 8:  # interface description
                link = struct.unpack(order + "H", body[:2])[0]
                ifaces.append((link, _tsresol(body[8 : blen - 12], order)))
            elif btype == 6 and len(body) >= 24:  # enhanced packet
                iid, hi, lo, incl, _orig = struct.unpack(order + "IIIII", body[:20])
                if incl > len(body) - 24:
                    cap._damaged(at, f"an enhanced packet of {incl} bytes in a block of {blen}")
                    return
                link, unit = ifaces[iid] if iid < len(ifaces) else (1, 1e-6)
                yield ((hi << 32) | lo) * unit, body[20 : 20 + incl], link
            elif btype == 3 and len(body) >= 8:  # simple packet
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
