"""The inspection engine: decoded packets -> built-in detectors + rules -> EVE alerts and block requests.

Rules are indexed by IP protocol and destination port, so a packet is tested only against the rules
that can match its header; payload buffers are built only when a candidate rule has content. The
rule set is swapped atomically by `reload`: a packet is inspected by the old set or the new one,
never a mix, and a rule file that fails to parse never replaces the running set.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from govnet import events
from govnet.errors import IdsError
from govnet.metrics import Point, validate
from ids.nids.buffers import Buffers
from ids.nids.decode import (
    LINK_ETHERNET,
    LINK_RAW,
    PROTO_ICMP,
    PROTO_ICMPV6,
    PROTO_TCP,
    Packet,
    decode,
    flow_id,
)
from ids.nids.defrag import Defrag
from ids.nids.detectors import SIGNATURES, DetectorConfig, Detectors
from ids.nids.pcre import DEFAULT_LIMITS, Limits
from ids.nids.rules import PROTOCOLS, Rule, RuleSet, flags_match

AlertSink = Callable[[events.Record], None]


@dataclass(frozen=True)
class BlockRequest:
    """An alert asks the firewall to block its source for `seconds` (the firewall side expires it)."""

    src_ip: str
    seconds: int
    signature_id: int
    signature: str
    first_seen: float  # timestamp of the first packet counted for this alert (for time-to-block)
    alert_ts: float
    sensor: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


BlockSink = Callable[[BlockRequest], None]


@dataclass
class Stats:
    """Counters of one engine: frames seen, decoded, alerts raised and block requests made, and the
    pcre searches stopped by a match limit (each counted as no match, per rule)."""

    frames: int = 0
    bytes: int = 0
    decoded: int = 0
    undecodable: int = 0
    alerts: int = 0
    blocks: int = 0
    blocks_refused: int = 0
    fragments: int = 0  # IP fragments seen (inspected only as reassembled datagrams)
    reassembled: int = 0  # IPv4 datagrams reassembled from fragments and inspected
    by_sid: Counter[tuple[int, int]] = field(default_factory=Counter)  # (sid, severity) -> alerts
    pcre_limit_hits: int = 0
    pcre_limit_by_sid: Counter[tuple[int, int]] = field(default_factory=Counter)  # (sid, severity) -> hits

    def pcre_limits_per_sid(self) -> dict[int, int]:
        """sid -> pcre searches of that rule stopped by a match limit."""
        out: Counter[int] = Counter()
        for (sid, _sev), n in self.pcre_limit_by_sid.items():
            out[sid] += n
        return dict(sorted(out.items()))


# proto -> (dport -> candidate rules, candidates for other ports); rules for other protos; the set
_Index = tuple[dict[int, tuple[dict[int, list[Rule]], list[Rule]]], list[Rule], RuleSet]


def _build_index(ruleset: RuleSet) -> _Index:
    """Candidate lists per (protocol, destination port), each in action order (pass first, as
    Suricata orders actions: a matching pass rule silences the packet)."""
    order = {"pass": 0, "drop": 1, "reject": 2, "alert": 3}
    rules = sorted(ruleset.rules, key=lambda r: order[r.action])

    def indexed(r: Rule, proto: int) -> bool:
        return r.dst_port_list is not None and proto not in (PROTO_ICMP, PROTO_ICMPV6)

    any_proto = [r for r in rules if not PROTOCOLS[r.proto]]
    by_proto: dict[int, tuple[dict[int, list[Rule]], list[Rule]]] = {}
    for proto in sorted({p for r in rules for p in PROTOCOLS[r.proto]}):
        mine = [r for r in rules if not PROTOCOLS[r.proto] or proto in PROTOCOLS[r.proto]]
        generic = [r for r in mine if not indexed(r, proto)]
        ports = {port for r in mine if indexed(r, proto) for port in r.dst_port_list or ()}
        per_port = {
            port: [r for r in mine if not indexed(r, proto) or port in (r.dst_port_list or ())]
            for port in ports
        }
        by_proto[proto] = (per_port, generic)
    return by_proto, any_proto, ruleset


class Engine:
    """Inspect packets; alerts go to `on_alert`, block requests (never for `never_block`) to `on_block`.

    `pcre_limits` bounds the pcre patterns that run on PCRE2 (see `ids.nids.pcre`)."""

    def __init__(
        self,
        rules: RuleSet | None = None,
        detectors: DetectorConfig | None = None,
        *,
        sensor: str = "nids",
        on_alert: AlertSink | None = None,
        on_block: BlockSink | None = None,
        never_block: Iterable[str] = (),
        drop_block_seconds: int = 300,
        pcre_limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.sensor = sensor
        self.pcre_limits = pcre_limits
        self.on_alert = on_alert
        self.on_block = on_block
        self.never_block = [_never_block_net(n) for n in never_block]
        self.drop_block_seconds = drop_block_seconds
        self.detectors = Detectors(detectors) if detectors is not None else Detectors()
        self._index = _build_index(rules or RuleSet([], [], {}))
        self._thresholds: dict[tuple[int, int, int], list[Any]] = {}
        self._blocked: dict[str, float] = {}  # source -> packet time its requested block ends
        self.stats = Stats()
        self.defrag = Defrag()

    @property
    def rules(self) -> RuleSet:
        return self._index[2]

    def reload(self, ruleset: RuleSet) -> None:
        """Replace the rules in one assignment (threshold state of surviving sids is kept)."""
        self._index = _build_index(ruleset)

    # --- per packet ---------------------------------------------------------------------------
    def feed(self, ts: float, frame: bytes, linktype: int = LINK_ETHERNET) -> None:
        """Decode and inspect one captured frame."""
        st = self.stats
        st.frames += 1
        st.bytes += len(frame)
        pkt = decode(frame, ts, linktype)
        if pkt is None:
            st.undecodable += 1
            return
        st.decoded += 1
        if pkt.fragmented:
            st.fragments += 1
            if pkt.ver != 4:
                if not pkt.frag:
                    self.inspect(pkt)  # an IPv6 first fragment: its own headers only (no reassembly)
                return
            whole = self.defrag.add(frame, pkt.l3, ts)
            if whole is None:
                return  # wait for the rest: a piece is never inspected alone (no evasion, no false scans)
            pkt = decode(whole, ts, LINK_RAW)
            if pkt is None:
                return
            st.reassembled += 1
        self.inspect(pkt)

    def inspect(self, p: Packet) -> None:
        """Run the built-in detectors and the rules over one decoded packet."""
        self.detectors.inspect(p, self._detector_hit)
        by_proto, any_proto, _ = self._index
        group = by_proto.get(p.proto)
        cands = any_proto if group is None else group[0].get(p.dport) or group[1]
        if not cands:
            return
        bufs: Buffers | None = None
        matched: list[Rule] = []
        no_payload = p.end <= p.pay
        for rule in cands:
            if no_payload and rule.contents:
                continue
            if not _header_match(rule, p):
                continue
            if rule.needs_payload:
                if bufs is None:
                    bufs = Buffers(p)
                if not self._payload_match(rule, p, bufs):
                    continue
            if rule.action == "pass":
                return
            matched.append(rule)
        for rule in matched:
            self._rule_hit(rule, p, bufs)

    def _payload_match(self, r: Rule, p: Packet, bufs: Buffers) -> bool:
        if r.dsize is not None and not r.dsize[0] <= p.payload_len <= r.dsize[1]:
            return False
        if r.proto == "http" and not bufs.is_http:
            return False
        for c in r.contents:
            data = bufs.get(c.buffer)
            if data is None:  # an HTTP buffer of a packet that is not an HTTP request
                return False
            found = c.matches(data, bufs.lowered(c.buffer, data) if c.nocase else None, self.pcre_limits)
            if found is None:  # a pcre search hit its match limit: no match, counted for the rule
                st = self.stats
                st.pcre_limit_hits += 1
                st.pcre_limit_by_sid[(r.sid, r.severity)] += 1
                return False
            if not found:
                return False
        return True

    # --- alerts -------------------------------------------------------------------------------
    def _rule_hit(self, rule: Rule, p: Packet, bufs: Buffers | None) -> None:
        for t in (rule.threshold, rule.detection_filter):
            if t is None:
                continue
            addr = p.src if t.track == "by_src" else p.dst
            key = (rule.sid, p.ver, addr)
            st = self._thresholds.get(key)
            if st is None or p.ts - st[0] > t.seconds:
                if len(self._thresholds) > 100_000:
                    self._purge_thresholds(p.ts)
                st = self._thresholds[key] = [p.ts, 0]
            st[1] += 1
            n = st[1]
            if t.kind == "limit" and n > t.count:
                return
            if t.kind == "threshold" and n % t.count:
                return
            if t.kind == "both" and n != t.count:
                return
            if t.kind == "detection_filter" and n <= t.count:
                return
        first = p.ts
        for t in (rule.threshold, rule.detection_filter):
            if t is not None:
                first = self._thresholds[(rule.sid, p.ver, p.src if t.track == "by_src" else p.dst)][0]
        extra: dict[str, Any] = {}
        if bufs is not None and bufs.is_http:
            http = bufs.http
            extra["app_proto"] = "http"
            extra["http"] = {
                "http_method": http["http.method"].decode("latin-1"),
                "url": http["http.uri.raw"].decode("latin-1"),
            }
        seconds = rule.block_seconds or (self.drop_block_seconds if rule.action in ("drop", "reject") else 0)
        rec = self._emit(rule.sid, rule.msg, rule.category, rule.severity, p, first, seconds, extra, rule.rev)
        if rule.metadata:
            rec["alert"]["metadata"] = rule.metadata

    def _purge_thresholds(self, now: float) -> None:
        self._thresholds = {k: v for k, v in self._thresholds.items() if now - v[0] < 3600}

    def _detector_hit(self, name: str, p: Packet, first: float) -> None:
        sig = SIGNATURES[name]
        cfg = self.detectors.config
        extra: dict[str, Any] = {"govnet_detector": name}
        if name == "synflood":
            # many (usually spoofed) sources: the packet that crossed the threshold is as likely a
            # real client's, so the alert names the victim only and never asks for a block
            extra["flood"] = {"half_open": cfg.synflood_half_open, "window_s": cfg.synflood_window}
            self._emit(sig.sid, sig.msg, sig.category, sig.severity, p, first, 0, extra, 1, anonymous=True)
            return
        self._emit(sig.sid, sig.msg, sig.category, sig.severity, p, first, cfg.block_seconds, extra, 1)

    def _emit(
        self,
        sid: int,
        msg: str,
        category: str,
        severity: int,
        p: Packet,
        first: float,
        block_seconds: int,
        extra: dict[str, Any],
        rev: int,
        *,
        anonymous: bool = False,
    ) -> events.Record:
        src = "" if anonymous else p.src_ip
        has_ports = p.proto not in (PROTO_ICMP, PROTO_ICMPV6) and not p.frag
        refused = ""
        if block_seconds > 0:
            addr = ipaddress.ip_address(src)
            if any(addr in net for net in self.never_block):
                refused = "management or protected address: never blocked"
                block_seconds = 0
        repeat = False
        if block_seconds > 0:  # one request per source while its block runs: the firewall is not spammed
            until = self._blocked.get(src, 0.0)
            repeat = p.ts < until
            if not repeat:
                if len(self._blocked) > 65536:
                    self._blocked = {k: v for k, v in self._blocked.items() if v > p.ts}
                self._blocked[src] = p.ts + block_seconds
        if block_seconds > 0 or refused:
            extra["govnet"] = {"block_seconds": block_seconds, "first_seen": events.timestamp(first)}
            if refused:
                extra["govnet"]["block_refused"] = refused
            if repeat:
                extra["govnet"]["block_already_requested"] = True
        rec = events.alert(
            sensor=self.sensor,
            signature_id=sid,
            signature=msg,
            category=category,
            severity=severity,
            src_ip=src,
            src_port=p.sport if has_ports and not anonymous else None,
            dest_ip=p.dst_ip,
            dest_port=p.dport if has_ports else None,
            proto=p.proto_name,
            flow_id=flow_id(p),
            t=p.ts,
            extra=extra,
        )
        if rev != 1:
            rec["alert"]["rev"] = rev
        if p.proto in (PROTO_ICMP, PROTO_ICMPV6):
            rec["icmp_type"] = p.icmp_type
            rec["icmp_code"] = p.icmp_code
        st = self.stats
        st.alerts += 1
        st.by_sid[(sid, severity)] += 1
        if self.on_alert is not None:
            self.on_alert(rec)
        if refused:
            st.blocks_refused += 1
        elif block_seconds > 0 and not repeat:
            st.blocks += 1
            if self.on_block is not None:
                self.on_block(BlockRequest(src, block_seconds, sid, msg, first, p.ts, self.sensor))
        return rec

    # --- metrics ------------------------------------------------------------------------------
    def points(self, time_ns: int | None = None) -> list[Point]:
        """`ids` registry points: alert counters per signature and the pcre match-limit hits of the
        rules that had any (cumulative, as counters are)."""
        out = []
        st = self.stats
        for key in sorted(set(st.by_sid) | set(st.pcre_limit_by_sid)):
            sid, sev = key
            tags = {"sensor": self.sensor, "signature_id": str(sid), "severity": str(sev)}
            fields: dict[str, int | float | bool] = {}
            if key in st.by_sid:
                fields["alerts"] = st.by_sid[key]
            if key in st.pcre_limit_by_sid:
                fields["pcre_limit_hits"] = st.pcre_limit_by_sid[key]
            pt = Point("ids", tags, fields) if time_ns is None else Point("ids", tags, fields, time_ns)
            out.append(validate(pt))
        return out

    def stats_event(self, **more: Any) -> events.Record:
        """An EVE `stats` event with the engine counters (plus capture counters such as kernel drops)."""
        s = self.stats
        return events.event(
            "stats",
            sensor=self.sensor,
            frames=s.frames,
            bytes=s.bytes,
            decoded=s.decoded,
            undecodable=s.undecodable,
            alerts=s.alerts,
            blocks=s.blocks,
            blocks_refused=s.blocks_refused,
            detector_evictions=self.detectors.evicted,
            pcre_limit_hits=s.pcre_limit_hits,
            pcre_limit_by_sid={str(sid): n for sid, n in s.pcre_limits_per_sid().items()},
            **more,
        )


def _header_match(r: Rule, p: Packet) -> bool:
    if r.bidirectional:
        return _one_way(r, p, p.src, p.sport, p.dst, p.dport) or _one_way(
            r, p, p.dst, p.dport, p.src, p.sport
        )
    return _one_way(r, p, p.src, p.sport, p.dst, p.dport)


def _one_way(r: Rule, p: Packet, s: int, sp: int, d: int, dp: int) -> bool:
    # cheapest and most selective first: flags and ports are integer tests, addresses a lookup
    if r.flags is not None and (p.proto != PROTO_TCP or not flags_match(p.flags, r.flags)):
        return False
    if r.dport is not None and not r.dport[dp]:
        return False
    if r.sport is not None and not r.sport[sp]:
        return False
    if r.established is not None:
        if p.proto != PROTO_TCP:
            return False
        # stateless approximation: "established" = an ACK without SYN; "not_established" = a bare SYN
        if (p.flags & 0x12 == 0x10) != r.established:
            return False
    if r.dst is not None and not r.dst(p.ver, d):
        return False
    if r.src is not None and not r.src(p.ver, s):
        return False
    if r.itype is not None and not r.itype[0] <= p.icmp_type <= r.itype[1]:
        return False
    return r.icode is None or r.icode[0] <= p.icmp_code <= r.icode[1]


def _never_block_net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError as exc:
        raise IdsError(
            f"--never-block {cidr}: not an address or network ({exc}); give a CIDR such as 10.0.0.0/8"
        ) from None
