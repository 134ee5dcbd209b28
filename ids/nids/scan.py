"""Offline inspection of a capture file (what `govnet ids scan` and `suricata -r` do)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from govnet import events
from ids.nids.detectors import DetectorConfig
from ids.nids.engine import BlockRequest, Engine, Stats
from ids.nids.pcap import read_pcap
from ids.nids.pcre import DEFAULT_LIMITS, Limits
from ids.nids.rules import RuleSet, default_rules_path, load_rules


@dataclass
class ScanResult:
    """Alerts (EVE records) and block requests of one capture, with counters and timing."""

    alerts: list[events.Record] = field(default_factory=list)
    blocks: list[BlockRequest] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0

    @property
    def packets_per_second(self) -> float:
        return self.stats.frames / self.seconds if self.seconds > 0 else 0.0


def scan_pcap(
    path: str | os.PathLike[str],
    rules: RuleSet | None = None,
    detectors: DetectorConfig | None = None,
    *,
    sensor: str = "govnet-scan",
    never_block: Iterable[str] = (),
    pcre_limits: Limits = DEFAULT_LIMITS,
) -> ScanResult:
    """Inspect every frame of a pcap/pcapng with the rules (default: the shipped ones) and detectors."""
    if rules is None:
        rules = load_rules([default_rules_path()])
    result = ScanResult()
    engine = Engine(
        rules,
        detectors,
        sensor=sensor,
        on_alert=result.alerts.append,
        on_block=result.blocks.append,
        never_block=never_block,
        pcre_limits=pcre_limits,
    )
    feed = engine.feed
    t0 = time.perf_counter()
    for ts, frame, link in read_pcap(Path(path)):
        feed(ts, frame, link)
    result.seconds = time.perf_counter() - t0
    result.stats = engine.stats
    return result


def limit_note(stats: Stats) -> str:
    """'' or one line on the pcre searches stopped by a match limit, per sid (a reason to look)."""
    if not stats.pcre_limit_hits:
        return ""
    per = stats.pcre_limits_per_sid()
    shown = ", ".join(f"sid {sid}: {n}" for sid, n in list(per.items())[:10])
    more = f", and {len(per) - 10} more sids" if len(per) > 10 else ""
    return (
        f"{stats.pcre_limit_hits} pcre searches stopped at the match limit and counted as no match "
        f"({shown}{more}); raise --pcre-match-limit / --pcre-depth-limit or rewrite those patterns"
    )


def format_table(alerts: list[events.Record]) -> str:
    """A readable table of alerts, one line each (time, sid, severity, source -> destination, text)."""
    if not alerts:
        return "no alerts"
    rows = [("time", "sid", "sev", "proto", "source", "destination", "signature")]
    for a in alerts:
        src = a["src_ip"] + (f":{a['src_port']}" if "src_port" in a else "")
        dst = a["dest_ip"] + (f":{a['dest_port']}" if "dest_port" in a else "")
        al = a["alert"]
        rows.append(
            (
                a["timestamp"][11:23],
                str(al["signature_id"]),
                str(al["severity"]),
                a["proto"],
                src,
                dst,
                al["signature"],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    return "\n".join(
        "  ".join(col.ljust(w) for col, w in zip(r[:6], widths, strict=True)) + "  " + r[6] for r in rows
    )
