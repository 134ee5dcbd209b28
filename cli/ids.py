"""`govnet ids` (scan, rules check, hids baseline/check): intrusion detection (ids.nids, ids.hids)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from cli.common import Subparsers, say

EPILOG_IDS = """examples:
  govnet ids scan capture.pcap                       # alerts as a table (like suricata -r), exit 0
  govnet ids scan capture.pcap --json | jq -c .alert # EVE JSON lines
  govnet ids scan capture.pcap --rules my.rules --set portscan_ports=50 --fail-on-alert
  govnet ids rules check my.rules                    # exit 2 naming file:line: keyword of a bad rule
  govnet ids hids baseline --paths /etc /srv/app --db var/hids/web.json
  govnet ids hids check --db var/hids/web.json --json
live sensor (root, inside an emulated host): python -m ids.nids.sensor --help
scan: alerts stream out as they are raised (table, --json, --events); IPv4 fragments are reassembled
before inspection. Exit 0 clean (1 with --fail-on-alert and alerts); 2 for a damaged capture (a
broken record/block header: the alerts before it are reported, the rest is not read) or bad input;
130 on Ctrl-C (the alerts so far are already written). A capture cut inside its last record warns.
"""


def _ids_detectors(args: argparse.Namespace) -> Any:
    from govnet.errors import IdsError
    from ids.nids import DetectorConfig

    cfg = DetectorConfig()
    if args.no_detectors:
        cfg.enabled = frozenset()
    for item in args.set:
        name, eq, value = item.partition("=")
        try:
            if not eq:
                raise ValueError(f"--set {item!r}: expected NAME=VALUE, e.g. portscan_ports=50")
            cfg.set(name, value)
        except ValueError as exc:
            raise IdsError(str(exc)) from None
    return cfg


def _pcre_limits(args: argparse.Namespace) -> Any:
    from govnet.errors import IdsError
    from ids.nids.pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT, Limits, parse_limit

    try:
        return Limits(
            DEFAULT_MATCH_LIMIT
            if args.pcre_match_limit is None
            else parse_limit(args.pcre_match_limit, "--pcre-match-limit"),
            DEFAULT_DEPTH_LIMIT
            if args.pcre_depth_limit is None
            else parse_limit(args.pcre_depth_limit, "--pcre-depth-limit"),
        )
    except ValueError as exc:
        raise IdsError(str(exc)) from None


def cmd_ids_scan(args: argparse.Namespace) -> int:
    from govnet.events import EventLog
    from ids.nids import default_rules_path, load_rules, scan_pcap
    from ids.nids.scan import limit_note, table_header, table_row

    limits = _pcre_limits(args)
    rules = load_rules(args.rules or [default_rules_path()])
    detectors = _ids_detectors(args)
    with contextlib.ExitStack() as stack:
        sinks: list[Callable[[dict[str, Any]], None]] = []
        if args.events:  # opened first: a bad path is refused before the capture is read
            sinks.append(stack.enter_context(EventLog(args.events)).write)
        if args.json:

            def emit(rec: dict[str, Any]) -> None:
                sys.stdout.write(json.dumps(rec) + "\n")

            sinks.append(emit)
        else:
            shown = [0]

            def show(rec: dict[str, Any]) -> None:
                if not shown[0]:
                    say(table_header())
                shown[0] += 1
                say(table_row(rec))

            sinks.append(show)

        def stream(rec: dict[str, Any]) -> None:  # every alert leaves memory as soon as it is raised
            for sink in sinks:
                sink(rec)

        res = scan_pcap(
            args.pcap,
            rules,
            detectors,
            never_block=args.never_block,
            on_alert=stream,
            keep=0,
            pcre_limits=limits,
        )
    s = res.stats
    if not args.json:
        if not s.alerts:
            say("no alerts")
        say(
            f"{args.pcap}: {s.frames} frames ({s.undecodable} not IP), {len(rules)} rules, "
            f"{s.alerts} alerts, {len(res.blocks)} block requests; "
            f"{res.seconds:.2f} s, {res.packets_per_second:,.0f} frames/s"
        )
    where = f", written to {args.events}" if args.events else ""
    if res.interrupted:
        print(
            f"govnet: interrupted after {s.frames} frames; {s.alerts} alerts so far{where}", file=sys.stderr
        )
        return 130
    if res.truncated:
        print(f"govnet: warning: {res.truncated}", file=sys.stderr)
    if res.damage:
        print(f"govnet: {res.damage} ({s.alerts} alerts found before it{where})", file=sys.stderr)
        return 2  # a damaged capture never passes, whatever --fail-on-alert says
    note = limit_note(res.stats)
    if note:
        print(f"govnet: note: {note}", file=sys.stderr)
    return 1 if args.fail_on_alert and s.alerts else 0


def _pcre_limit_args(parser: argparse.ArgumentParser) -> None:
    from ids.nids.pcre import DEFAULT_DEPTH_LIMIT, DEFAULT_MATCH_LIMIT

    parser.add_argument(
        "--pcre-match-limit",
        metavar="N",
        help="backtracking steps a pcre that RE2 cannot run may take per start position "
        f"(Suricata's pcre match-limit; default {DEFAULT_MATCH_LIMIT}); a search that reaches it "
        "counts as no match and is reported",
    )
    parser.add_argument(
        "--pcre-depth-limit",
        metavar="N",
        help="nesting depth of its backtracking (Suricata's match-limit-recursion; "
        f"default {DEFAULT_DEPTH_LIMIT})",
    )


def cmd_ids_rules_check(args: argparse.Namespace) -> int:
    from ids.nids import default_rules_path, load_rules

    files = args.files or [str(default_rules_path())]
    rules = load_rules(files)
    sids = sorted(r.sid for r in rules.rules)
    span = f" (sids {sids[0]}..{sids[-1]})" if sids else ""
    say(f"{', '.join(files)}: {len(rules)} rules valid{span}")
    return 0


def cmd_ids_hids_baseline(args: argparse.Namespace) -> int:
    from ids.hids import scan

    t0 = time.perf_counter()
    base = scan(args.paths)
    base.save(args.db)
    files = sum(1 for e in base.entries.values() if e.type == "f")
    took = time.perf_counter() - t0
    say(f"{args.db}: baseline of {len(base.entries)} paths ({files} files) in {took:.2f} s")
    return 0


def cmd_ids_hids_check(args: argparse.Namespace) -> int:
    from govnet.events import EventLog
    from ids.hids import check, to_alerts

    t0 = time.perf_counter()
    now, changes = check(args.db, trust_ctime=args.trust_ctime)
    alerts = to_alerts(changes, sensor=args.sensor)
    if args.events:
        with EventLog(args.events) as log:
            for rec in alerts:
                log.write(rec)
    if args.json:
        sys.stdout.write("".join(json.dumps(rec) + "\n" for rec in alerts))
    else:
        for c in changes:
            say(c.line())
        say(
            f"{args.db}: {len(now.entries)} paths checked, {len(changes)} changed "
            f"in {time.perf_counter() - t0:.2f} s"
        )
    if args.update:
        now.save(args.db)
    return 1 if args.fail_on_change and changes else 0


def register(sub: Subparsers) -> None:
    """Add `ids` to the `govnet` subcommands."""
    # ids parser (ids.nids, ids.hids) --
    ids = sub.add_parser(
        "ids",
        help="intrusion detection: scan captures with rules and detectors, check rules, host integrity",
        epilog=EPILOG_IDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    isub = ids.add_subparsers(dest="ids_cmd", metavar="VERB")
    isc = isub.add_parser(
        "scan",
        help="print the alerts of a pcap/pcapng (rules + built-in detectors), like suricata -r",
        description="Inspects every frame of a capture with the rules (default: the shipped govnet.rules) "
        "and the built-in detectors (port scans, SYN flood, ICMP sweep, SSH and web-login guessing). "
        "Exit 0 even when there are alerts (an alert is a finding, not a failure); --fail-on-alert "
        "exits 1 instead.",
        epilog="example:\n"
        "  .venv/bin/python -c \"from scapy.all import *; wrpcap('t.pcap', [Ether()/IP(src='203.0.113.5', "
        "dst='10.0.0.2')/TCP(dport=80,flags='PA')/'GET /../../etc/passwd HTTP/1.1\\r\\n\\r\\n'])\"\n"
        "  govnet ids scan t.pcap\n"
        "  time          sid      sev  proto  source          destination  signature\n"
        "  06:30:01.278  1000001  1    TCP    203.0.113.5:20  10.0.0.2:80  "
        "GOVNET WEB path traversal ../ in URI\n"
        "  06:30:01.278  1000004  1    TCP    203.0.113.5:20  10.0.0.2:80  GOVNET WEB /etc/passwd requested\n"
        "  t.pcap: 1 frames (0 not IP), 15 rules, 2 alerts, 1 block requests; 0.00 s, 2,275 frames/s",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    isc.add_argument("pcap", help="capture file (pcap: both byte orders, µs/ns; or pcapng)")
    isc.add_argument("--rules", action="append", default=[], metavar="FILE", help="rule file (repeatable)")
    isc.add_argument("--json", action="store_true", help="EVE JSON lines instead of the table")
    isc.add_argument("--events", metavar="FILE", help="also append the alerts to this EVE JSON-lines file")
    isc.add_argument("--fail-on-alert", action="store_true", help="exit 1 when there is any alert")
    isc.add_argument("--no-detectors", action="store_true", help="rules only, no built-in detectors")
    isc.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="detector setting: sweep_hosts=20"
    )
    isc.add_argument(
        "--never-block", action="append", default=[], metavar="CIDR", help="addresses never to ask to block"
    )
    _pcre_limit_args(isc)
    isc.set_defaults(func=cmd_ids_scan)
    irl = isub.add_parser(
        "rules",
        help="rule files: check",
        epilog="example:\n  govnet ids rules check my.rules\n  my.rules: 12 rules valid (sids 1..41)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    irsub = irl.add_subparsers(dest="ids_rules_cmd", metavar="VERB")
    irc = irsub.add_parser(
        "check",
        help="parse rule files; exit 2 with file:line: keyword: problem for the first bad rule",
        epilog="example:\n  govnet ids rules check my.rules\n"
        "  govnet: my.rules:7: flags: unknown TCP flag 'Z' (use F S R P A U C E, 0 for none)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    irc.add_argument("files", nargs="*", help="rule files (default: the shipped govnet.rules)")
    irc.set_defaults(func=cmd_ids_rules_check)
    ihd = isub.add_parser(
        "hids",
        help="host IDS file integrity (as AIDE): baseline, check",
        epilog="examples:\n  govnet ids hids baseline --paths /etc /usr/local/bin --db var/hids/host.json\n"
        "  govnet ids hids check --db var/hids/host.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ihsub = ihd.add_subparsers(dest="ids_hids_cmd", metavar="VERB")
    ihb = ihsub.add_parser(
        "baseline",
        help="record content hashes and metadata of every path under DIRs into a JSON baseline",
        epilog="example:\n  govnet ids hids baseline --paths /etc /srv/app --db var/hids/web.json\n"
        "  var/hids/web.json: baseline of 2210 paths (1930 files) in 0.41 s",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ihb.add_argument("--paths", nargs="+", required=True, metavar="DIR", help="files or directories")
    ihb.add_argument("--db", required=True, metavar="FILE", help="baseline file to write (JSON)")
    ihb.set_defaults(func=cmd_ids_hids_baseline)
    ihc = ihsub.add_parser(
        "check",
        help="compare the paths with the baseline: added, removed, modified, permission/owner changed",
        description="Exit 0 even when files changed (a change is a finding); --fail-on-change exits 1.",
        epilog="example:\n  govnet ids hids check --db var/hids/web.json\n"
        "  modified                           /srv/app/index.html\n"
        "  permission-changed, setuid-added   /srv/app/bin/tool\n"
        "  var/hids/web.json: 2210 paths checked, 2 changed in 0.39 s",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ihc.add_argument("--db", required=True, metavar="FILE", help="baseline file written by 'baseline'")
    ihc.add_argument("--json", action="store_true", help="EVE alert JSON lines, one per changed path")
    ihc.add_argument("--events", metavar="FILE", help="also append the alerts to this EVE JSON-lines file")
    ihc.add_argument("--update", action="store_true", help="accept the changes: write the new baseline")
    ihc.add_argument("--fail-on-change", action="store_true", help="exit 1 when anything changed")
    ihc.add_argument("--trust-ctime", action="store_true", help="re-hash only files whose ctime changed")
    ihc.add_argument("--sensor", default="hids", help="sensor name in the alerts (default hids)")
    ihc.set_defaults(func=cmd_ids_hids_check)
    ids.set_defaults(func=None, _parser=ids)
    irl.set_defaults(func=None, _parser=irl)
    ihd.set_defaults(func=None, _parser=ihd)
    for parser in (isc, irc, ihb, ihc):
        parser.set_defaults(_parser=parser)
