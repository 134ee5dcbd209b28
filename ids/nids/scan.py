"""Offline inspection of a capture file (what `govnet ids scan` and `suricata -r` do)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
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
    """Alerts (EVE records) and block requests of one capture, with counters and timing.

    `alerts` holds at most the `keep` first alerts (all of them by default); `stats.alerts` counts
    every alert and `stats.by_sid` counts them per rule, so a scan that streams its alerts to a sink
    holds a bounded amount in memory however many alerts the capture raises. `damage`/`truncated`
    say why the capture's reading ended early (see `ids.nids.pcap`); `interrupted` that Ctrl-C did."""

    alerts: list[events.Record] = field(default_factory=list)
    blocks: list[BlockRequest] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0
    damage: str = ""
    truncated: str = ""
    interrupted: bool = False

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
    on_alert: Callable[[events.Record], None] | None = None,
    keep: int | None = None,
    pcre_limits: Limits = DEFAULT_LIMITS,
) -> ScanResult:
    """Inspect every frame of a pcap/pcapng with the rules (default: the shipped ones) and detectors.

    Each alert goes to `on_alert` as soon as it is raised (stream it: an EVE file, stdout) and the
    first `keep` (None: all) are also kept in `ScanResult.alerts`. Ctrl-C ends the scan early with
    `interrupted` set: what was raised before it has already reached `on_alert`."""
    if rules is None:
        rules = load_rules([default_rules_path()])
    result = ScanResult()
    kept = result.alerts

    def alert(rec: events.Record) -> None:
        if on_alert is not None:
            on_alert(rec)
        if keep is None or len(kept) < keep:
            kept.append(rec)

    engine = Engine(
        rules,
        detectors,
        sensor=sensor,
        on_alert=alert,
        on_block=result.blocks.append,
        never_block=never_block,
        pcre_limits=pcre_limits,
    )
    feed = engine.feed
    capture = read_pcap(Path(path))
    t0 = time.perf_counter()
    try:
        for ts, frame, link in capture:
            feed(ts, frame, link)
    except KeyboardInterrupt:
        result.interrupted = True
        capture.close()
    result.seconds = time.perf_counter() - t0
    result.stats = engine.stats
    result.damage, result.truncated = capture.damage, capture.truncated
    return result


_COLS = (("time", 12), ("sid", 8), ("sev", 3), ("proto", 5), ("source", 21), ("destination", 21))


def table_header() -> str:
    """The header of `table_row` lines (fixed widths, so rows can be printed as alerts arrive)."""
    return "  ".join(name.ljust(w) for name, w in _COLS) + "  signature"


def table_row(a: events.Record) -> str:
    """One alert as a table line under `table_header`."""
    src = a["src_ip"] + (f":{a['src_port']}" if "src_port" in a else "")
    dst = a["dest_ip"] + (f":{a['dest_port']}" if "dest_port" in a else "")
    al = a["alert"]
    cols = (a["timestamp"][11:23], str(al["signature_id"]), str(al["severity"]), a["proto"], src, dst)
    return "  ".join(c.ljust(w) for c, (_n, w) in zip(cols, _COLS, strict=True)) + "  " + str(al["signature"])


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
