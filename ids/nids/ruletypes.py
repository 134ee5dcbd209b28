"""The vocabulary of govnet's Suricata rule subset (actions, protocols, classtypes, variables, keywords)
and the parsed objects: `Content`, `Threshold`, `Rule`, `RuleSet`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ids.nids.decode import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP
from ids.nids.pcre import DEFAULT_LIMITS, Limits, Regex

ACTIONS = ("pass", "drop", "reject", "alert")  # Suricata's order of precedence
PROTOCOLS = {
    "tcp": frozenset({PROTO_TCP}),
    "udp": frozenset({PROTO_UDP}),
    "icmp": frozenset({PROTO_ICMP, PROTO_ICMPV6}),
    "ip": frozenset(),  # every IP packet
    "http": frozenset({PROTO_TCP}),
}

# Classification (name -> description, default priority), after Suricata's classification.config.
CLASSTYPES: dict[str, tuple[str, int]] = {
    "not-suspicious": ("Not Suspicious Traffic", 3),
    "unknown": ("Unknown Traffic", 3),
    "bad-unknown": ("Potentially Bad Traffic", 2),
    "attempted-recon": ("Attempted Information Leak", 2),
    "successful-recon-limited": ("Information Leak", 2),
    "network-scan": ("Detection of a Network Scan", 3),
    "denial-of-service": ("Detection of a Denial of Service Attack", 2),
    "attempted-dos": ("Attempted Denial of Service", 2),
    "attempted-user": ("Attempted User Privilege Gain", 1),
    "unsuccessful-user": ("Unsuccessful User Privilege Gain", 1),
    "attempted-admin": ("Attempted Administrator Privilege Gain", 1),
    "web-application-attack": ("Web Application Attack", 1),
    "web-application-activity": ("Access to a Potentially Vulnerable Web Application", 2),
    "default-login-attempt": ("Attempt to Login By a Default Username and Password", 2),
    "suspicious-login": ("An Attempted Login Using a Suspicious Username was Detected", 2),
    "policy-violation": ("Potential Corporate Privacy Violation", 1),
    "protocol-command-decode": ("Generic Protocol Command Decode", 3),
    "misc-activity": ("Misc activity", 3),
    "misc-attack": ("Misc Attack", 2),
    "trojan-activity": ("A Network Trojan was Detected", 1),
}

DEFAULT_VARS: dict[str, str] = {
    "HOME_NET": "[10.0.0.0/8,172.16.0.0/12,192.168.0.0/16]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_SERVERS": "$HOME_NET",
    "SQL_SERVERS": "$HOME_NET",
    "SSH_SERVERS": "$HOME_NET",
    "DNS_SERVERS": "$HOME_NET",
    "SMTP_SERVERS": "$HOME_NET",
    "HTTP_PORTS": "[80,8080,8081]",  # port 80 in the model; 8080/8081 are the OA/approval apps' defaults
    "SSH_PORTS": "22",
    "ORACLE_PORTS": "1521",
    "SHELLCODE_PORTS": "!80",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
}

BUFFERS = ("payload", "http.uri", "http.uri.raw", "http.method", "http.header", "http.request_body")
_STICKY = {b: b for b in BUFFERS[1:]} | {"pkt_data": "payload", "file_data": "http.request_body"}
_MODIFIER_BUFFERS = {
    "http_uri": "http.uri",
    "http_raw_uri": "http.uri.raw",
    "http_method": "http.method",
    "http_header": "http.header",
    "http_client_body": "http.request_body",
}
KEYWORDS = (
    "msg sid rev gid classtype priority reference metadata target flags flow content nocase depth "
    "offset uricontent pcre threshold detection_filter itype icode dsize " + " ".join(_STICKY)
).split() + list(_MODIFIER_BUFFERS)

_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}
_FLAG_BITS |= {"1": 0x80, "2": 0x40}


@dataclass(frozen=True)
class Content:
    """One `content` (or `pcre`) match in one buffer; `depth`/`offset` bound where it may start."""

    pattern: bytes
    buffer: str = "payload"
    nocase: bool = False
    negated: bool = False
    offset: int = 0
    depth: int | None = None
    regex: Regex | None = None

    def matches(self, data: bytes, lowered: bytes | None, limits: Limits = DEFAULT_LIMITS) -> bool | None:
        """Whether this content (or pcre) matches data; None when a pcre search hit its match limit
        (the rule then does not match, whether the pcre is negated or not, as in Suricata)."""
        if self.regex is not None:
            found = self.regex.search(data, limits)
            return None if found is None else found != self.negated
        hay = lowered if self.nocase and lowered is not None else data
        end = len(hay) if self.depth is None else self.offset + self.depth
        return (hay.find(self.pattern, self.offset, end) >= 0) != self.negated


@dataclass(frozen=True)
class Threshold:
    """`threshold` (limit | threshold | both) or `detection_filter`, tracked by source or destination."""

    kind: str
    track: str
    count: int
    seconds: float


@dataclass
class Rule:
    """One parsed rule. `src`/`dst` test (version, integer address); ports index a 64 Ki bitmap."""

    action: str
    proto: str
    src: Callable[[int, int], bool] | None
    sport: bytearray | None
    dst: Callable[[int, int], bool] | None
    dport: bytearray | None
    bidirectional: bool
    sid: int
    msg: str
    source: str
    line: int
    text: str
    rev: int = 1
    classtype: str = ""
    category: str = ""
    priority: int = 3
    flags: tuple[int, int, str] | None = None  # (wanted bits, ignored bits, modifier)
    established: bool | None = None
    contents: tuple[Content, ...] = ()
    threshold: Threshold | None = None
    detection_filter: Threshold | None = None
    block_seconds: int = 0
    itype: tuple[int, int] | None = None
    icode: tuple[int, int] | None = None
    dsize: tuple[int, int] | None = None
    metadata: dict[str, list[str]] = field(default_factory=dict)
    dst_port_list: tuple[int, ...] | None = None  # explicit small port sets, for the engine's index
    needs_payload: bool = False  # content, http or dsize: the engine builds payload buffers

    @property
    def severity(self) -> int:
        return min(max(self.priority, 1), 4)

    @property
    def buffers(self) -> frozenset[str]:
        return frozenset(c.buffer for c in self.contents)


@dataclass
class RuleSet:
    """Rules loaded from one or more files, in file order, with their variables."""

    rules: list[Rule]
    sources: list[str]
    variables: dict[str, str]

    def __len__(self) -> int:
        return len(self.rules)

    def by_sid(self, sid: int) -> Rule:
        for r in self.rules:
            if r.sid == sid:
                return r
        raise KeyError(sid)
