"""A documented subset of Suricata's rule language, parsed into matchers.

    action proto src_addr src_port -> dst_addr dst_port (option; option: value; ...)

Actions alert/drop/reject/pass; protocols tcp, udp, icmp (v4 and v6), ip and http (TCP to
$HTTP_PORTS — when the rule says `any` — whose payload is an HTTP request). Addresses and ports take
variables (`$HOME_NET`), lists, negation, CIDR, ranges (`1024:`, `:1023`, `80:90`) and `any`; `<>`
matches both directions. The options are listed in `KEYWORDS`; anything else is refused with an error
naming the file, line and keyword, so a rule never silently means less than it says. Values Suricata
refuses are refused too: a sid outside 1..2**32-1, `depth` shorter than its content, a `dsize` range
or an address or port spec that matches nothing. `pcre` runs bounded (`ids.nids.pcre`): in RE2 when
RE2 can, otherwise in PCRE2 under Suricata's match limits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from govnet.errors import RuleError
from ids.nids.decode import PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP
from ids.nids.pcre import DEFAULT_LIMITS, Limits, Regex
from ids.nids.ruleaddr import address_matcher, port_map, split_top

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


# --- loading ------------------------------------------------------------------------------------
def default_rules_path() -> Path:
    """The rules shipped with govnet (approval-portal attacks, login guessing)."""
    return Path(__file__).resolve().parent / "rules" / "govnet.rules"


def load_rules(
    paths: Iterable[str | os.PathLike[str]], variables: Mapping[str, str] | None = None
) -> RuleSet:
    """Parse rule files; the first bad rule raises RuleError(file, line, keyword)."""
    merged = RuleSet([], [], dict(DEFAULT_VARS) | dict(variables or {}))
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise RuleError(str(path), 0, "", f"cannot read rule file: {reason}") from None
        part = parse_rules(text, str(path), merged.variables, _seen={r.sid: r for r in merged.rules})
        merged.rules.extend(part.rules)
        merged.sources.append(str(path))
        merged.variables = part.variables
    return merged


def parse_rules(
    text: str,
    source: str = "<rules>",
    variables: Mapping[str, str] | None = None,
    *,
    _seen: dict[int, Rule] | None = None,
) -> RuleSet:
    """Parse rule text. Lines: rules, `# comments`, `ipvar|portvar|var NAME VALUE`; `\\` continues."""
    vars_ = dict(DEFAULT_VARS) | dict(variables or {})
    rules: list[Rule] = []
    seen: dict[int, Rule] = dict(_seen or {})
    pending = ""
    start = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending:
            start = lineno
            if not line or line.startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        stmt = (pending + line).strip()
        pending = ""
        head = stmt.split(None, 1)[0]
        if head in ("var", "ipvar", "portvar"):
            parts = stmt.split(None, 2)
            if len(parts) != 3:
                raise RuleError(source, start, head, "expected 'var NAME VALUE'")
            vars_[parts[1].lstrip("$")] = parts[2].strip()
            continue
        rule = parse_rule(stmt, source, start, vars_)
        if rule.sid in seen:
            other = seen[rule.sid]
            raise RuleError(
                source, start, "sid", f"sid {rule.sid} already used at {other.source}:{other.line}"
            )
        seen[rule.sid] = rule
        rules.append(rule)
    if pending:
        raise RuleError(source, start, "", "rule continues ('\\') past the end of the file")
    return RuleSet(rules, [source], vars_)


def _split_header(text: str) -> tuple[str, str, str, str, str, str] | None:
    """(action, proto, left, arrow, right, options body) of `action proto L -> R (body)`, or None.

    Plain string scanning, linear in the rule's length (a backtracking regex here took seconds for a
    rule line of a thousand spaces)."""
    parts = text.split(None, 2)
    if len(parts) != 3:
        return None
    action, proto, rest = parts
    paren = rest.find("(")
    tail = rest.rstrip()
    if paren < 0 or not tail.endswith(")"):
        return None
    head = rest[:paren]
    arrows = [i for i in (head.find("->"), head.find("<>")) if i >= 0]
    if not arrows:
        return None
    at = min(arrows)
    return action, proto, head[:at].strip(), head[at : at + 2], head[at + 2 :].strip(), tail[paren + 1 : -1]


def parse_rule(
    text: str, source: str = "<rule>", line: int = 1, variables: Mapping[str, str] | None = None
) -> Rule:
    """Parse one rule (see the module docstring); RuleError names source, line and keyword."""
    vars_ = dict(DEFAULT_VARS) | dict(variables or {})

    def fail(keyword: str, message: str) -> RuleError:
        return RuleError(source, line, keyword, message)

    parts = _split_header(text)
    if parts is None:
        raise fail("header", "expected 'action proto src sport -> dst dport (options)'")
    action, proto, left, arrow, right, body = parts
    if action not in ACTIONS:
        raise fail("action", f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if proto not in PROTOCOLS:
        raise fail("protocol", f"unknown protocol {proto!r}; use one of {', '.join(PROTOCOLS)}")
    lparts = split_top(left, " ")
    rparts = split_top(right, " ")
    if len(lparts) != 2 or len(rparts) != 2:
        raise fail("header", "expected an address and a port on each side of the arrow")
    try:
        src = address_matcher(lparts[0], vars_)
        dst = address_matcher(rparts[0], vars_)
    except ValueError as exc:
        raise fail("address", str(exc)) from None
    try:
        sport = port_map(lparts[1], vars_)
        dport_spec = rparts[1]
        if proto == "http" and dport_spec == "any":
            dport_spec = "$HTTP_PORTS"
        dport = port_map(dport_spec, vars_)
    except ValueError as exc:
        raise fail("port", str(exc)) from None
    rule = Rule(action, proto, src, sport, dst, dport, arrow == "<>", 0, "", source, line, text.strip())
    _apply_options(rule, body, fail)
    rule.needs_payload = bool(rule.contents) or rule.proto == "http" or rule.dsize is not None
    if rule.sid <= 0:
        raise fail("sid", f"every rule needs 'sid:N;' with N in 1..{_U32}")
    if dport is not None and not rule.bidirectional and dport.count(1) <= 64:
        ports: list[int] = []
        i = dport.find(1)
        while i >= 0:
            ports.append(i)
            i = dport.find(1, i + 1)
        rule.dst_port_list = tuple(ports)
    return rule


def _apply_options(rule: Rule, body: str, fail: Callable[[str, str], RuleError]) -> None:
    contents: list[Content] = []
    buffer = "payload"
    have_classtype_priority = False
    for opt in _split_options(body):
        key, _, value = opt.partition(":")
        key = key.strip()
        value = value.strip()
        if opt.endswith(_UNTERMINATED):
            raise fail(key.removesuffix(_UNTERMINATED), "option not terminated by ';'")
        try:
            if key == "msg":
                rule.msg = _unquote(value)
            elif key in ("sid", "rev", "gid", "priority"):
                n = _uint(value, key, *_INT_RANGES[key])
                if key == "sid":
                    rule.sid = n
                elif key == "rev":
                    rule.rev = n
                elif key == "priority":
                    rule.priority = n
                    have_classtype_priority = True
            elif key == "classtype":
                if value not in CLASSTYPES:
                    raise ValueError(f"unknown classtype {value!r} (known: {', '.join(sorted(CLASSTYPES))})")
                rule.classtype = value
                rule.category, prio = CLASSTYPES[value]
                if not have_classtype_priority:
                    rule.priority = prio
            elif key in ("reference", "target"):
                pass
            elif key == "metadata":
                for item in value.split(","):
                    words = item.split()
                    if not words:
                        continue
                    rule.metadata.setdefault(words[0], []).append(" ".join(words[1:]))
                    if words[0] == "govnet_block":
                        if len(words) != 2 or not words[1].isdigit() or int(words[1]) <= 0:
                            raise ValueError("govnet_block takes block seconds, e.g. 'govnet_block 300'")
                        rule.block_seconds = int(words[1])
            elif key == "flags":
                rule.flags = _parse_flags(value)
            elif key == "flow":
                for word in (w.strip() for w in value.split(",")):
                    if word in ("established", "not_established", "stateless"):
                        rule.established = {"established": True, "not_established": False}.get(word)
                    elif word not in ("to_server", "from_client", "to_client", "from_server"):
                        raise ValueError(f"unsupported flow option {word!r}")
            elif key in ("content", "uricontent"):
                neg = value.startswith("!")
                pat = _content_bytes(_unquote(value[1:].strip() if neg else value))
                if not pat:
                    raise ValueError("empty content")
                buf = "http.uri" if key == "uricontent" else buffer
                contents.append(Content(pat, buf, negated=neg))
            elif key in ("nocase", "depth", "offset") or key in _MODIFIER_BUFFERS:
                if not contents or contents[-1].regex is not None:
                    raise ValueError("needs a preceding 'content'")
                last = contents[-1]
                if key == "nocase":
                    last = Content(
                        last.pattern.lower(), last.buffer, True, last.negated, last.offset, last.depth
                    )
                elif key == "depth":
                    depth = _uint(value, key, 0, 65535)
                    if depth < len(last.pattern):
                        raise ValueError(
                            f"depth:{depth} leaves no room for the {len(last.pattern)}-byte content, so "
                            "the rule could never match (depth counts the bytes from offset that the "
                            f"content may occupy); use depth:{len(last.pattern)} or more"
                        )
                    last = _replace(last, depth=depth)
                elif key == "offset":
                    last = _replace(last, offset=_uint(value, key, 0, 65535))
                else:
                    last = _replace(last, buffer=_MODIFIER_BUFFERS[key])
                contents[-1] = last
            elif key in _STICKY:
                if value:
                    raise ValueError("takes no value")
                buffer = _STICKY[key]
            elif key == "pcre":
                contents.append(_parse_pcre(value, buffer))
            elif key in ("threshold", "detection_filter"):
                t = _parse_threshold(value, key)
                if key == "threshold":
                    rule.threshold = t
                else:
                    rule.detection_filter = t
            elif key in ("itype", "icode", "dsize"):
                setattr(rule, key, _parse_range(value, key))
            else:
                raise fail(key or "option", f"unsupported keyword (supported: {', '.join(KEYWORDS)})")
        except RuleError:
            raise
        except ValueError as exc:
            raise fail(key, str(exc)) from None
    rule.contents = tuple(contents)
    if rule.contents and rule.proto in ("icmp",) and any(c.buffer != "payload" for c in rule.contents):
        raise fail("http.uri", "HTTP buffers need protocol tcp or http")
    if not rule.category:
        rule.category = CLASSTYPES["misc-activity"][0] if not rule.classtype else rule.category


def _replace(c: Content, **kw: object) -> Content:
    from dataclasses import replace

    return replace(c, **kw)  # type: ignore[arg-type]


_U32 = 0xFFFFFFFF
# Suricata's ranges: sid, rev and gid are 32-bit unsigned (sid 0 is not a sid), priority a 32-bit int
_INT_RANGES = {"sid": (1, _U32), "rev": (0, _U32), "gid": (0, _U32), "priority": (0, 0x7FFFFFFF)}


def _uint(value: str, key: str, lo: int, hi: int) -> int:
    """A whole number lo..hi in plain ASCII digits (no sign, no '_'), or ValueError saying so."""
    v = value.strip()
    n = int(v) if v.isascii() and v.isdigit() and len(v) <= 20 else -1
    if not lo <= n <= hi:
        shown = v if len(v) <= 40 else v[:37] + "..."
        raise ValueError(f"{key} must be a whole number {lo}..{hi}{_HINTS.get(key, '')}, got {shown!r}")
    return n


_HINTS = {"sid": " (32-bit, as in Suricata; 1000000..1999999 are for local rules)"}


# --- option helpers -----------------------------------------------------------------------------
def _split_options(body: str) -> list[str]:
    """Split on ';' outside quotes; '\\;' and '\\"' are escapes inside values."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            cur.append(ch + body[i + 1])
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            item = "".join(cur).strip()
            if item:
                out.append(item)
            cur = []
        else:
            cur.append(ch)
        i += 1
    tail = "".join(cur).strip()
    if tail:
        out.append(tail + _UNTERMINATED)
    return out


_UNTERMINATED = "\x00unterminated"


def _unquote(value: str, *, regex: bool = False) -> str:
    """The text of a quoted value: `\\"`, `\\;` (and in content `\\:`, `\\\\`) are escapes."""
    v = value.strip()
    if len(v) < 2 or v[0] != '"' or v[-1] != '"':
        raise ValueError(f"expected a quoted string, got {value!r}")
    return re.sub(r'\\([";])' if regex else r'\\([";:\\])', r"\1", v[1:-1])


def _content_bytes(text: str) -> bytes:
    """Content text with |hex| sections, e.g. 'GET|20|/' -> b'GET /'."""
    out = bytearray()
    parts = text.split("|")
    if len(parts) % 2 == 0:
        raise ValueError("unbalanced '|' in content")
    for i, part in enumerate(parts):
        if i % 2:
            try:
                out += bytes.fromhex(part)
            except ValueError:
                raise ValueError(f"bad hex {part!r} in content") from None
        else:
            out += part.encode("utf-8")
    return bytes(out)


def _parse_pcre(value: str, buffer: str) -> Content:
    neg = value.startswith("!")  # pcre:!"/re/" as in Suricata (and "!/re/" inside the quotes)
    text = _unquote(value[1:] if neg else value, regex=True)
    if text.startswith("!"):
        neg, text = not neg, text[1:]
    if not text.startswith("/") or text.rfind("/") == 0:
        raise ValueError('expected "/regex/flags"')
    end = text.rfind("/")
    pattern, mods = text[1:end], text[end + 1 :]
    flags = ""
    for ch in mods:
        if ch in "ismx":
            flags += ch if ch not in flags else ""
        elif ch == "U":
            buffer = "http.uri"
        elif ch == "I":
            buffer = "http.uri.raw"
        elif ch == "M":
            buffer = "http.method"
        elif ch == "H":
            buffer = "http.header"
        elif ch == "P":
            buffer = "http.request_body"
        else:
            raise ValueError(f"unsupported pcre modifier {ch!r} (supported: i s m x U I M H P)")
    return Content(b"", buffer, negated=neg, regex=Regex(pattern.encode(), flags))


def _parse_flags(value: str) -> tuple[int, int, str]:
    spec, _, mask = value.partition(",")
    spec = spec.strip()
    mod = ""
    if spec and spec[0] in "+*!":
        mod, spec = spec[0], spec[1:]
    if spec and spec[-1] in "+*" and not mod:
        mod, spec = spec[-1], spec[:-1]
    want = 0
    for ch in spec:
        if ch == "0":
            continue
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} (use F S R P A U C E, 0 for none)")
        want |= _FLAG_BITS[ch]
    ignore = 0
    for ch in mask.strip():
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r} in mask")
        ignore |= _FLAG_BITS[ch]
    return want, ignore, mod


def flags_match(flags: int, spec: tuple[int, int, str]) -> bool:
    """TCP flags against a `flags` option: exact (default), + all of, * any of, ! none of."""
    want, ignore, mod = spec
    f = flags & ~ignore
    if mod == "+":
        return f & want == want
    if mod == "*":
        return bool(f & want)
    if mod == "!":
        return not f & want
    return f == want


def _parse_threshold(value: str, key: str) -> Threshold:
    items: dict[str, str] = {}
    for part in value.split(","):
        words = part.split()
        if len(words) != 2:
            raise ValueError(f"expected 'name value' pairs, got {part.strip()!r}")
        items[words[0]] = words[1]
    kind = "detection_filter" if key == "detection_filter" else items.pop("type", "")
    if kind not in ("limit", "threshold", "both", "detection_filter"):
        raise ValueError("type must be limit, threshold or both")
    track = items.pop("track", "")
    if track not in ("by_src", "by_dst"):
        raise ValueError("track must be by_src or by_dst")
    try:
        count = int(items.pop("count"))
        seconds = float(items.pop("seconds"))
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]}") from None
    if items:
        raise ValueError(f"unknown setting(s) {', '.join(items)}")
    if count < 1 or seconds <= 0:
        raise ValueError("count must be >= 1 and seconds > 0")
    return Threshold(kind, track, count, seconds)


_RANGE_MAX = {"dsize": 65535, "itype": 255, "icode": 255}  # payload size is 16-bit, ICMP fields 8-bit


def _parse_range(value: str, key: str) -> tuple[int, int]:
    """`N`, `>N`, `<N`, `N<>M` (strictly between) as an inclusive (lo, hi) range that is not empty."""
    top = _RANGE_MAX[key]
    v = value.replace(" ", "")
    if "<>" in v:
        a_s, _, b_s = v.partition("<>")
        a, b = _uint(a_s, key, 0, top), _uint(b_s, key, 0, top)
        if a >= b:
            raise ValueError(
                f"{key}:{a}<>{b}: the first bound must be the lower one; write {key}:{b}<>{a}"
                if a > b
                else f"{key}:{a}<>{b} matches nothing (N<>M means strictly between N and M)"
            )
        if b - a < 2:
            raise ValueError(
                f"{key}:{a}<>{b} matches nothing (N<>M means strictly between N and M); "
                f"write {key}:{a}<>{a + 2} for exactly {a + 1}, or {key}:{a + 1}"
            )
        return a + 1, b - 1
    if v.startswith(">"):
        n = _uint(v[1:], key, 0, top)
        if n >= top:
            raise ValueError(f"{key}:>{n} matches nothing: {key} is at most {top}")
        return n + 1, top
    if v.startswith("<"):
        n = _uint(v[1:], key, 0, top + 1)
        if n == 0:
            raise ValueError(f"{key}:<0 matches nothing: {key} is at least 0; write {key}:0 for exactly 0")
        return 0, n - 1
    n = _uint(v, key, 0, top)
    return n, n
