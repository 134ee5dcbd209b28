"""IPv4 fragment reassembly, bounded, before any rule or detector sees a fragmented datagram.

Without it a request split into fragments is never matched (evasion), and every non-first fragment,
which carries no TCP header, would look like a TCP packet with no flags (a false "NULL scan").
So the engine inspects no fragment by itself: it inspects the datagram once all of its fragments
are here, as Suricata's defrag does.

- A datagram is keyed by (source, destination, IP id, protocol) and complete when the bytes from 0
  to the end given by the last fragment (MF clear) are all present.
- Overlaps: the bytes that arrived first win ("first" policy), and each overlap is counted
  (`overlaps`): overlapping fragments are an evasion technique, not something hosts send.
- Bounds: a datagram over 65,535 bytes (ping of death), more than `max_fragments` pieces, or
  incomplete after `timeout` seconds (packet time) is dropped and counted; at most `max_datagrams`
  are assembled at once (the oldest is dropped first), so a fragment flood costs bounded memory.
IPv6 fragments are not reassembled: they are counted, and a non-first one is never read as TCP.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass, field

_HDR = struct.Struct("!BBHHHBBH4s4s")
MAX_DATAGRAM = 65_535


@dataclass
class DefragStats:
    fragments: int = 0  # fragments seen
    reassembled: int = 0  # datagrams completed and inspected
    overlaps: int = 0  # fragments that overlapped bytes already held
    too_big: int = 0  # datagrams that would exceed 65,535 bytes
    too_many: int = 0  # datagrams of more than max_fragments pieces
    timeouts: int = 0  # incomplete datagrams dropped after the timeout
    evicted: int = 0  # incomplete datagrams dropped to stay within max_datagrams


@dataclass
class _Datagram:
    first_ts: float
    header: bytes = b""  # the IP header of the offset-0 fragment
    pieces: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes), arrival order
    end: int = -1  # payload length, once the last fragment (MF clear) arrived


class Defrag:
    """Collects IPv4 fragments; `add` returns the whole datagram (raw IP bytes) once complete."""

    def __init__(self, timeout: float = 60.0, max_datagrams: int = 4096, max_fragments: int = 256) -> None:
        self.timeout = timeout
        self.max_datagrams = max_datagrams
        self.max_fragments = max_fragments
        self.stats = DefragStats()
        self._open: OrderedDict[tuple[bytes, bytes, int, int], _Datagram] = OrderedDict()

    def add(self, frame: bytes, l3: int, ts: float) -> bytes | None:
        """One fragment: the frame and where its IPv4 header starts. None until the datagram is whole."""
        st = self.stats
        st.fragments += 1
        self._expire(ts)
        if len(frame) < l3 + 20:
            return None
        vihl, _tos, total, ident, fo, _ttl, proto, _csum, src, dst = _HDR.unpack_from(frame, l3)
        ihl = (vihl & 0x0F) * 4
        if ihl < 20 or total < ihl or len(frame) < l3 + total:
            return None
        offset = (fo & 0x1FFF) * 8
        more = bool(fo & 0x2000)
        data = frame[l3 + ihl : l3 + total]
        key = (src, dst, ident, proto)
        dg = self._open.get(key)
        if dg is None:
            if len(self._open) >= self.max_datagrams:
                self._open.popitem(last=False)
                st.evicted += 1
            dg = self._open[key] = _Datagram(ts)
        if offset + len(data) > MAX_DATAGRAM - ihl:
            del self._open[key]
            st.too_big += 1
            return None
        if len(dg.pieces) >= self.max_fragments:
            del self._open[key]
            st.too_many += 1
            return None
        if any(o < offset + len(data) and offset < o + len(d) for o, d in dg.pieces):
            st.overlaps += 1
        dg.pieces.append((offset, data))
        if offset == 0:
            dg.header = dg.header or frame[l3 : l3 + ihl]
        if not more:
            dg.end = offset + len(data)
        if dg.end < 0 or not dg.header:
            return None
        reach = 0  # is every byte from 0 to the end present? (merge the pieces' intervals)
        for o, d in sorted(dg.pieces):
            if o > reach:
                return None
            reach = max(reach, o + len(d))
        if reach < dg.end:
            return None
        body = bytearray(dg.end)
        for o, d in reversed(dg.pieces):  # the first to arrive is written last: its bytes win
            body[o : o + len(d)] = d[: max(0, dg.end - o)]
        del self._open[key]
        st.reassembled += 1
        hdr = bytearray(dg.header)
        struct.pack_into("!H", hdr, 2, len(hdr) + dg.end)
        struct.pack_into("!H", hdr, 6, 0)  # no longer a fragment
        struct.pack_into("!H", hdr, 10, 0)
        return bytes(hdr) + bytes(body)

    def _expire(self, now: float) -> None:
        while self._open:
            key, dg = next(iter(self._open.items()))
            if now - dg.first_ts <= self.timeout:
                return
            del self._open[key]
            self.stats.timeouts += 1
