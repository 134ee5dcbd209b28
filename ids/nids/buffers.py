"""Deep decoding, done only for packets a content rule may alert on: payload and HTTP request parts.

One packet is one unit (no TCP reassembly): an HTTP request line split across segments is not seen,
which is the usual case for small requests to the portal but is a documented limit.
`http.uri` is the percent-decoded request target (path traversal stays visible: `..%2f` becomes
`../`; no path compression), `http.uri.raw` the target as sent.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from ids.nids.decode import Packet

_METHODS = frozenset(
    {b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE"}
)


class Buffers:
    """Lazily computed inspection buffers of one packet, each also cached lower-cased for nocase."""

    __slots__ = ("_http", "_lower", "payload")

    def __init__(self, pkt: Packet) -> None:
        self.payload = pkt.payload
        self._http: dict[str, bytes] | None = None
        self._lower: dict[str, bytes] = {}

    @property
    def is_http(self) -> bool:
        return bool(self.http)

    @property
    def http(self) -> dict[str, bytes]:
        if self._http is None:
            self._http = parse_request(self.payload)
        return self._http

    def get(self, name: str) -> bytes | None:
        if name == "payload":
            return self.payload
        return self.http.get(name)

    def lowered(self, name: str, data: bytes) -> bytes:
        low = self._lower.get(name)
        if low is None:
            low = self._lower[name] = data.lower()
        return low


def parse_request(payload: bytes) -> dict[str, bytes]:
    """The parts of an HTTP/1 request at the start of payload ({} when it is not one).

    A request line of any length is parsed (a long one is an attack's favourite way to hide: no
    length limit on what we look at, so a padded URI cannot switch the HTTP rules off). A packet that
    ends inside the request line (the line goes on in the next segment) is still a request: its
    target is what this packet holds, and `http.partial` says the line was cut."""
    if len(payload) < 14 or payload[:1].isspace():
        return {}
    line_end = payload.find(b"\n")
    partial = line_end < 0
    if partial:
        line_end = len(payload)
    line = payload[:line_end].rstrip(b"\r")
    method, sp, rest = line.partition(b" ")
    if not sp or method not in _METHODS:
        return {}
    if partial:
        target, version = rest, b""
    else:
        target, _, version = rest.rpartition(b" ")
        if not version.startswith(b"HTTP/"):
            return {}
    head_end = payload.find(b"\r\n\r\n", line_end)
    out = {
        "http.method": method,
        "http.uri.raw": target,  # raw spaces in the target: servers differ, attackers try it
        "http.uri": unquote_to_bytes(target) if b"%" in target else target,
        "http.header": b""
        if partial
        else payload[line_end + 1 : head_end if head_end >= 0 else len(payload)],
        "http.request_body": payload[head_end + 4 :] if head_end >= 0 else b"",
    }
    if partial:
        out["http.partial"] = b"1"
    return out
