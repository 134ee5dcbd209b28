"""The background flows of `apps.replay`: paced UDP streams between one socket per host, counted per flow.

Just before a flow starts its receiver sends a "hello" to the sender (as an RTSP or SIP client
would), so the stateful firewalls see the inside host open the stream; each datagram carries its
flow number and sequence.
"""

from __future__ import annotations

import heapq
import selectors
import socket
import struct
import time

from apps.replay_plan import PlanError, ReplayPlan
from govnet.netns import socket_in_netns

IP_UDP_ETH = 42  # Ethernet + IPv4 + UDP header bytes: a flow's packet_bytes is the frame size
_HDR = struct.Struct("!IIB")  # flow number, sequence, kind (0 data, 1 hello)


class ReplayFlows(ReplayPlan):
    """Sends every flow's datagrams on time and counts what arrives."""

    # --- background flows --------------------------------------------------------------------------
    def _udp_sockets(self) -> dict[str, socket.socket]:
        socks: dict[str, socket.socket] = {}
        for f in self.flows:
            for h in (f[2], f[3]):
                if h not in socks:
                    if h not in self.hosts:
                        raise PlanError(f"plan.flows: host {h!r} is not in plan.hosts")
                    s = socket_in_netns(self.hosts[h].get("pid"), socket.AF_INET, socket.SOCK_DGRAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind(("0.0.0.0" if self.hosts[h].get("pid") else self.hosts[h]["ip"], self.udp_port))
                    s.setblocking(False)
                    socks[h] = s
        return socks

    def _background(self, socks: dict[str, socket.socket], stats: list[list[int]], end: float) -> None:
        """Send every flow's datagrams on time (a heap of next-send times) until the plan ends."""
        heap: list[tuple[float, int, int]] = []  # (wall time, flow, kind: 1 hello, 0 data)
        for i, f in enumerate(self.flows):
            heapq.heappush(heap, (self.t0 + float(f[0]) - 0.2, i, 1))
        while heap and not self._stop.is_set():
            t, i, kind = heap[0]
            now = time.time()
            if t > now:
                self._stop.wait(min(t - now, 0.05))
                continue
            heapq.heappop(heap)
            start, dur, src, dst, _cls, bps, pkt = self.flows[i]
            if kind == 1:  # the receiver opens the stream
                with _suppress_os():
                    socks[dst].sendto(_HDR.pack(i, 0, 1), (self.hosts[src]["ip"], self.udp_port))
                heapq.heappush(heap, (self.t0 + float(start), i, 0))
                continue
            seq = stats[i][1]
            payload = _HDR.pack(i, seq, 0).ljust(max(_HDR.size, int(pkt) - IP_UDP_ETH), b"\0")
            try:
                socks[src].sendto(payload, (self.hosts[dst]["ip"], self.udp_port))
                stats[i][1] += 1
            except BlockingIOError:
                stats[i][3] += 1  # socket buffer full: counted as not sent
            except OSError:
                stats[i][3] += 1
            nxt = t + int(pkt) * 8 / float(bps)
            if nxt < self.t0 + float(start) + float(dur) and nxt < end:
                heapq.heappush(heap, (nxt, i, 0))

    def _receive(self, socks: dict[str, socket.socket], stats: list[list[int]]) -> None:
        sel = selectors.DefaultSelector()
        for s in socks.values():
            sel.register(s, selectors.EVENT_READ)
        while not self._stop.is_set():
            for key, _ in sel.select(0.1):
                sock = key.fileobj
                if not isinstance(sock, socket.socket):
                    continue
                while True:
                    try:
                        data = sock.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    if len(data) >= _HDR.size:
                        i, _seq, kind = _HDR.unpack_from(data)
                        if kind == 0 and i < len(stats):
                            stats[i][2] += 1
        sel.close()


class _suppress_os:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]
