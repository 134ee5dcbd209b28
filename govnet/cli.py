"""The `govnet` command: thin verbs that parse arguments and delegate.

Domain packages are imported inside each verb, so `govnet` itself depends on none of them and
`govnet --help` works on any machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from govnet import __version__
from govnet.errors import GovnetError, ModelError, NotRootError

EPILOG_TOPO = """examples:
  govnet topo check                          # validate the reference model
  govnet topo check my-city.yaml             # validate your own model (exit 2 + one line per problem)
  govnet topo show --json | jq '.nodes | length'
  govnet topo show small --yaml > my.yaml    # a normalised copy to edit
  sudo govnet topo up small --check          # build it in Mininet, verify, tear down
  sudo govnet topo up --cli                  # the reference network with Mininet's CLI
"""


def _say(msg: str) -> None:
    print(msg, flush=True)


def _progress(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# topo ------------------------------------------------------------------------------------------
def cmd_topo_check(args: argparse.Namespace) -> int:
    from topology import load_model

    net = load_model(args.model)
    kinds = Counter(n.kind for n in net.nodes)
    _say(
        f"{args.model or 'weihai (reference)'}: valid — {len(net.nodes)} nodes "
        f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), {len(net.links)} links, "
        f"{len(net.vlans)} VLANs"
    )
    return 0


def cmd_topo_show(args: argparse.Namespace) -> int:
    from topology import dump_model_yaml, load_model

    net = load_model(args.model)
    if args.json:
        _say(json.dumps(net.to_dict(), indent=1))
    elif args.yaml:
        sys.stdout.write(dump_model_yaml(net))
    else:
        _say(f"model {net.name}: {len(net.nodes)} nodes, {len(net.links)} links")
        for kind, count in sorted(Counter(n.kind for n in net.nodes).items()):
            _say(f"  {kind:13} {count}")
        _say("links (kind, rate Mbit/s: count):")
        for (kind, bw), count in sorted(Counter((lk.kind, lk.bw_mbps) for lk in net.links).items()):
            _say(f"  {kind:13} {bw:>7g}: {count}")
        _say("VLANs:")
        for v in net.vlans:
            sites = sum(1 for lan in net.lans if lan.vlan == v.name)
            _say(
                f"  {v.id:>4} {v.name:12} {v.subnet:16} zone {v.zone:11} {sites} site(s)"
                f"{'' if v.routed else ' (not routed)'}"
            )
    return 0


def cmd_topo_caps(_args: argparse.Namespace) -> int:
    from topology.emulator import detect

    caps = detect()
    _say(caps.table())
    if not caps.root:
        _say("(run as root to probe the kernel)")
    return 0


def cmd_topo_up(args: argparse.Namespace) -> int:
    from govnet.rundir import create_run_dir
    from govnet.signals import interrupts_on_signals
    from topology import load_model
    from topology.emulator import Emulation, detect, run_checks

    net = load_model(args.model)
    if os.geteuid() != 0:
        raise NotRootError("the emulator needs root (network namespaces): run 'sudo govnet topo up ...'")
    run = create_run_dir(f"topo-{net.name}")
    _say(f"run directory: {run}")
    _say(detect().summary())
    from firewall import Pair, pair_plan
    from govnet.events import EventLog

    plan = pair_plan(net)
    with contextlib.ExitStack() as stack:
        stack.enter_context(interrupts_on_signals())
        emu = stack.enter_context(Emulation(net, run, log=_progress))
        if plan is not None and not args.no_pair:
            events = stack.enter_context(EventLog(run / "events.json"))
            stack.enter_context(Pair(emu, plan, run, events=events, log=_progress))
        t = emu.timings
        _say(
            f"{net.name} is up: {len(net.nodes)} nodes, {len(net.links)} links "
            f"(build {t['build_s']:.1f} s, configure {t['configure_s']:.1f} s, "
            f"converge {t['converge_s']:.1f} s)"
        )
        rc = 0
        if args.check:
            report = run_checks(emu)
            _say(report.table())
            (run / "check.json").write_text(json.dumps(report.to_dict(), indent=1))
            rc = 0 if report.ok else 1
        if args.cli:
            from mininet.cli import CLI

            CLI(emu.mn)
        elif not args.check:
            _say(
                "press Ctrl-C to tear it down"
                + ("; 'govnet fw status' shows the firewall pair" if plan else "")
            )
            while True:
                time.sleep(3600)
    _say("torn down")
    return rc


# clean / lab -----------------------------------------------------------------------------------
def cmd_clean(args: argparse.Namespace) -> int:
    import os

    if os.geteuid() != 0:
        raise GovnetError("govnet clean needs root (it removes namespaces and interfaces)")
    from topology.emulator import clean

    report = clean(force=args.force)
    _say(report.summary())
    return 1 if report.skipped_owners else 0


def cmd_lab_run(args: argparse.Namespace) -> int:
    from labs import run_lab

    result = run_lab(args.lab, model=args.model, log=_progress)
    _say(result.summary)
    _say(f"report: {result.report}")
    return 0 if result.ok else 1


def cmd_lab_list(_args: argparse.Namespace) -> int:
    from labs import list_labs

    for name, desc in list_labs():
        _say(f"{name:16} {desc}")
    return 0


# hsm -------------------------------------------------------------------------------------------
EPILOG_HSM = """examples:
  govnet hsm simulate --files 100000 --days 365 --policy 20/80+30/70
  govnet hsm simulate --files 1000000 --days 730 --policy age:30 --disk-tb 4 --json | jq .fill_day
  govnet hsm status                          # the store under var/hsm/: files and bytes per tier, alarms,
                                             # reclaimable bytes per tape/disc volume
  govnet hsm reclaim --threshold 40 --dry-run   # which volumes are below 40 % live, and the modelled time
  govnet hsm reclaim --window-h 2            # copy their live records to other volumes, retire them
  govnet hsm offsite-plan var/hsm/backup/offsite/docs/000001-full.tar --model weihai
                                             # off-site copy: hosts, path, pacing, window, the two commands
  govnet hsm drill                           # back up sample data, restore a file, a database, a mailbox
                                             # and a system image, time and verify each by checksum
"""


def cmd_hsm_simulate(args: argparse.Namespace) -> int:
    from backup_hsm import simulate_cli

    report = simulate_cli(args)
    if args.json:
        _say(json.dumps(report, indent=1))
        return 0
    from backup_hsm import format_report

    _say(format_report(report))
    return 0


def cmd_hsm_status(args: argparse.Namespace) -> int:
    from backup_hsm import Hsm

    # only look: a running service may own the store, and a path with no store stays without one
    with Hsm.open(args.root, recover=False, create=False) as hsm:
        status = hsm.status()
    _say(json.dumps(status, indent=1) if args.json else hsm.format_status(status))
    return 0


def cmd_hsm_reclaim(args: argparse.Namespace) -> int:
    from backup_hsm import OPTICAL, TAPE, Hsm, reclaim
    from backup_hsm.reclaim import check_threshold

    tier = TAPE if args.tier == "tape" else OPTICAL
    budget = args.window_h * 3600 if args.window_h else None
    check_threshold(args.threshold / 100, tier)  # before opening (and perhaps creating) a store
    with Hsm.open(args.root, create=not args.dry_run) as hsm:  # a dry run never makes a store
        result = reclaim(hsm, args.threshold / 100, tier, budget_s=budget, dry_run=args.dry_run)
    _say(json.dumps(result.to_dict(), indent=1) if args.json else "\n".join(result.lines()))
    return 0 if all(v.state != "failed" for v in result.volumes) else 1


def cmd_hsm_offsite_plan(args: argparse.Namespace) -> int:
    import hashlib

    from backup_hsm import HsmInputError, Window
    from backup_hsm.offsite import plan_offsite
    from topology import load_model

    start, _, hours = args.window.partition(":")
    where = "hsm offsite-plan"
    try:
        window = Window(float(start), float(hours))
        with open(args.archive, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
    except ValueError:
        raise HsmInputError(where, "window", "not START_H:HOURS", args.window, "e.g. 22:3") from None
    except OSError as exc:
        raise HsmInputError(where, "archive", "cannot read it", args.archive, str(exc.strerror)) from None
    plan = plan_offsite(
        load_model(args.model),
        os.path.basename(args.archive),
        os.path.getsize(args.archive),
        digest,
        window,
        share=args.share,
        source=args.source,
        destination=args.destination,
    )
    cmds = plan.commands(os.path.abspath(args.archive), args.out, args.key_file)
    if args.json:
        _say(json.dumps({**plan.to_dict(), "commands": cmds}, indent=1))
        return 0
    end = plan.start_s + plan.duration_s
    _say(
        f"{plan.job}: {plan.bytes:,} bytes {plan.source} ({plan.source_addr}) -> {plan.destination} "
        f"({plan.destination_addr}) over {' > '.join(plan.path)}\n"
        f"bottleneck {plan.bottleneck_mbps:g} Mbit/s, paced at {plan.rate_mbps:g} Mbit/s: "
        f"{plan.duration_s:,.0f} s from {plan.start_s / 3600 % 24:05.2f} h, ends {end / 3600 % 24:05.2f} h "
        f"({'fits' if plan.fits else 'does NOT fit'} the window)"
    )
    _say(f"  first: python -m backup_hsm.transfer keygen {args.key_file}; give both hosts that file (0600)")
    for host, argv in cmds.items():
        _say(f"  in {host}: {' '.join(argv)}")
    return 0


def cmd_hsm_drill(args: argparse.Namespace) -> int:
    from backup_hsm import run_drills

    results = run_drills(args.root, log=_progress)
    for r in results:
        _say(r.line())
    return 0 if all(r.ok for r in results) else 1


# tsdb ------------------------------------------------------------------------------------------
EPILOG_TSDB = """examples:
  govnet tsdb up                             # VictoriaMetrics on 127.0.0.1:8428 (or a free port), var/tsdb/
  govnet tsdb status                         # the URL in use; exit 1 if the store does not answer
  curl -s localhost:8428/api/v1/query --data-urlencode 'query=rate(iface_tx_bytes[1m])*8'
  govnet tsdb down                           # stop exactly the process in var/tsdb/victoria-metrics.pid
  GOVNET_TSDB_URL=http://host:8428 govnet tsdb status   # use a store govnet does not manage
"""


def _store(args: argparse.Namespace) -> Any:
    from govnet.tsdb import Store

    return Store(port=getattr(args, "port", None), retention=getattr(args, "retention", None) or "30d")


def cmd_tsdb_up(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.external:
        store.check()
        _say(f"using the metrics store at {store.describe()}: it answers (govnet does not manage it)")
        return 0
    started = store.up()
    _say(f"metrics store {'started' if started else 'already running'}: {store.describe()}")
    return 0


def cmd_tsdb_down(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.external:
        _say(f"nothing to stop: the metrics store at {store.describe()} is not managed by govnet")
        return 0
    pid = store.pid()
    _say(f"metrics store stopped (pid {pid})" if store.down() else "metrics store was not running")
    return 0


def cmd_tsdb_status(args: argparse.Namespace) -> int:
    store = _store(args)
    store.check()
    _say(f"metrics store up: {store.describe()}, {store.series_count()} series")
    return 0


# whatif -----------------------------------------------------------------------------------------
def cmd_whatif(args: argparse.Namespace) -> int:
    from capacity import load_demands, run_whatif
    from govnet.errors import WhatIfError
    from topology import load_model

    single = {"--grow": args.grow, "--fail": args.fail, "--n-1": args.n_1, "--add-bureaus": args.add_bureaus}
    single |= {"--storage": args.storage, "--plot": args.plot}
    one_only = [flag for flag, given in single.items() if given]
    if args.sweep and one_only:
        raise WhatIfError(f"--sweep takes every what-if from its file; leave out {', '.join(one_only)}")
    if not args.sweep and (args.workers is not None or args.cluster):
        raise WhatIfError("--workers and --cluster run a --sweep FILE; give one")
    net = load_model(args.model)
    demands = load_demands(args.demands, net) if args.demands else None
    if args.sweep:
        from capacity.sweep import load_sweep, run_sweep

        sweep = run_sweep(net, load_sweep(args.sweep), demands, args.workers, args.cluster)
        _say(json.dumps(sweep.to_dict(), indent=1) if args.json else sweep.table())
        return 1 if sweep.failed else 0
    w = run_whatif(net, demands, args.grow, args.fail, args.n_1, args.add_bureaus)
    out = w.to_dict() if args.json else {}
    text = [w.table()]
    if args.storage:  # capacity may not import backup_hsm: the HSM simulation is composed here
        from backup_hsm import simulate_cli
        from capacity.storage import format_storage, storage_report, whatif_growth

        _progress(f"HSM simulation: {args.storage_files} files over {args.storage_days} days")
        out["storage"] = storage = storage_report(
            whatif_growth(net, w, demands),
            lambda p: simulate_cli(argparse.Namespace(**p)),
            args.storage_files,
            args.storage_days,
            args.storage_policy,
            args.disk_tb,
        )
        text += ["", format_storage(storage)]
    if args.plot:
        from capacity.plot import write_plot

        out["plot"] = str(write_plot(w, args.plot))
        text += ["", f"plot written to {args.plot}"]
    _say(json.dumps(out, indent=1) if args.json else "\n".join(text))
    return 0


# audit verbs (ids.audit) ---------------------------------------------------------------------
EPILOG_AUDIT = """examples:
  govnet audit parse --kind sshd /var/log/auth.log --json | jq -c 'select(.result == "failure")'
  govnet audit parse --kind pam auth.log --year 2026        # year-less syslog dates: 2026
  govnet audit ingest --kind auth auth.log --policy policy.yaml --events events.json
  govnet audit verify                                        # exit 1 and the first bad record id
  govnet audit report --top 5
  govnet audit policy-check policy.yaml --show
ledger: var/audit/ledger.db unless --ledger or $GOVNET_VAR is given
"""


def _year(text: str) -> int:
    if not text.isdigit() or not 1970 <= int(text) <= 9999:
        raise argparse.ArgumentTypeError(f"a year is 1970..9999 (got {text!r})")
    return int(text)


def _ledger_path(args: argparse.Namespace) -> str:
    from govnet.paths import var_dir

    return str(args.ledger or var_dir() / "audit" / "ledger.db")


def _log_file(path: str) -> str:
    from govnet.errors import AuditError

    if not os.path.isfile(path):
        raise AuditError(f"{path}: no such log file" if not os.path.exists(path) else f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise AuditError(f"{path}: not readable (permission denied); run as a user who can read it")
    return path


def cmd_audit_parse(args: argparse.Namespace) -> int:
    from ids.audit import parse_file

    path = _log_file(args.file)
    years = _syslog_years(path, args.kind, args.year)
    n = 0
    for ev in parse_file(path, args.kind, years=years):
        n += 1
        if args.json:
            sys.stdout.write(json.dumps(ev.to_json(), ensure_ascii=False) + "\n")
        else:
            _say(f"{ev.line:>7} {ev.time[:19]} {ev.result:7} {ev.reason:28} {ev.user[:20]:20} {ev.host}")
    if not args.json:
        _say(f"{n} login events")
    _say_bad_dates(path, years, err=args.json)
    return 0


def _syslog_years(path: str, kind: str, year: int | None) -> Any:
    from ids.audit.logline import SyslogYear, file_year

    if kind == "app":
        return None
    return SyslogYear(year=year) if year is not None else file_year(path)


def _say_bad_dates(path: str, years: Any, *, err: bool = False) -> None:
    """Say how many lines were skipped because their date cannot exist (never drop lines silently)."""
    if years is None or not years.bad_dates:
        return
    first = years.first_bad[0] if years.first_bad else "?"
    msg = (
        f"{path}: {years.bad_dates} line(s) skipped: impossible date (first: {first!r}); "
        "for 'Feb 29' give the log's leap year with --year"
    )
    print(msg, file=sys.stderr if err else sys.stdout)


def cmd_audit_ingest(args: argparse.Namespace) -> int:
    from govnet.events import EventLog
    from ids.audit import Auditor, Ledger, LogFollower, load_policy, parse_file

    policy = load_policy(args.policy)
    path = _log_file(args.file)
    events = EventLog(args.events) if args.events else None
    try:
        with Ledger(_ledger_path(args)) as ledger:
            ledger.require_intact()
            auditor = Auditor(
                policy, ledger=ledger, event_log=events, batch=1000, sshd_lines=args.kind != "pam"
            )
            replayed = auditor.restore(ledger)  # repeat offences across runs stay repeats
            if replayed:
                _say(f"{_ledger_path(args)}: policy state restored from {replayed} earlier attempts")
            if args.kind == "app":  # a JSON document or a database: read whole, not resumable
                result = auditor.feed_all(parse_file(path, args.kind, year=args.year))
                years = None
            else:  # resumes where the last ingest of this file stopped (cursor in the ledger)
                follower = LogFollower(path, args.kind, auditor, year=args.year, from_start=args.from_start)
                start = follower.line
                result = follower.poll()
                years = follower.years
                if start > 1:
                    _say(f"{path}: resumed at line {start} (use --from-start to read it all again)")
    finally:
        if events is not None:
            events.close()
    attempts = sum(auditor.counts.values())
    _say(f"{path}: {auditor.seen} login events, {attempts} attempts, {auditor.written} ledger records")
    for d in result.decisions:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.until)) if d.until else "-"
        _say(f"  {d.kind:13} {d.subject:24} until {until}  {d.reason}")
    for a in result.anomalies:
        _say(f"  anomaly      {a.user:24} score {a.score:.2f}  {a.explain()}")
    _say_bad_dates(path, years)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from ids.audit import Ledger

    path = _ledger_path(args)
    with Ledger(path, create=False) as ledger:
        res = ledger.verify()
    if res.ok:
        _say(res.line(path))
        return 0
    print(f"govnet: {res.line(path)}", file=sys.stderr)
    return 1


def cmd_audit_report(args: argparse.Namespace) -> int:
    from ids.audit import Ledger, format_report, load_policy, summarise

    policy = load_policy(args.policy)
    with Ledger(_ledger_path(args), create=False) as ledger:
        rep = summarise(ledger, policy, top=args.top)
    _say(json.dumps(rep, indent=1, ensure_ascii=False) if args.json else format_report(rep))
    return 0


def cmd_audit_policy_check(args: argparse.Namespace) -> int:
    from ids.audit import load_policy, policy_document

    policy = load_policy(args.file)
    if args.show:
        _say(json.dumps(policy_document(policy), indent=1))
    else:
        _say(f"{args.file or '(defaults)'}: valid policy")
    return 0


# ids verbs (ids.nids, ids.hids) ----------------------------------------------------------------
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
                    _say(table_header())
                shown[0] += 1
                _say(table_row(rec))

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
            _say("no alerts")
        _say(
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
    _say(f"{', '.join(files)}: {len(rules)} rules valid{span}")
    return 0


def cmd_ids_hids_baseline(args: argparse.Namespace) -> int:
    from ids.hids import scan

    t0 = time.perf_counter()
    base = scan(args.paths)
    base.save(args.db)
    files = sum(1 for e in base.entries.values() if e.type == "f")
    took = time.perf_counter() - t0
    _say(f"{args.db}: baseline of {len(base.entries)} paths ({files} files) in {took:.2f} s")
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
            _say(c.line())
        _say(
            f"{args.db}: {len(now.entries)} paths checked, {len(changes)} changed "
            f"in {time.perf_counter() - t0:.2f} s"
        )
    if args.update:
        now.save(args.db)
    return 1 if args.fail_on_change and changes else 0


# fw verbs (firewall) ----------------------------------------------------------------------------
def cmd_fw(args: argparse.Namespace) -> int:
    from firewall.pair import request

    if args.fw_cmd in ("drain", "add"):
        reply = request(args.fw_cmd, args.member, socket_path=args.socket)
        res = reply["result"]
        if args.json:
            _say(json.dumps(res, indent=1))
        else:
            shares = ", ".join(f"{m} {v:.0%}" for m, v in res["shares"].items())
            _say(f"{args.fw_cmd} {res['member']}: moved {res['moved_slots']} slot(s); slot shares {shares}")
        return 0
    st = request("status", socket_path=args.socket)["status"]
    if args.json:
        _say(json.dumps(st, indent=1))
        return 0
    head = f"{'member':<10} {'state':<8} {'slots':>6} {'load':>6} {'sessions':>9} {'pkt/s':>9} {'Mbit/s':>8}"
    _say(head + "  health")
    for m in st["members"]:
        _say(
            f"{m['name']:<10} {m['state']:<8} {m['slot_share']:>6.0%} {m['load_share']:>6.0%}"
            f" {m['sessions']:>9} {m['pps']:>9.0f} {m['mbps']:>8.2f}  {'ok' if m['healthy'] else 'NO ANSWER'}"
        )
    sync = st["sync"]
    dead = f" ({', '.join(sync['dead_pairs'])})" if sync["dead_pairs"] else ""
    _say(f"state sync: {sync['state']}{dead}")
    _say(f"steering points: {', '.join(st['points'])}; evenness (max/min load) {st['evenness']:.2f}")
    _say("alarms: " + (", ".join(st["alarms"]) or "none"))
    return 1 if st["alarms"] else 0


# parser ----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="govnet",
        description="Emulate, watch and plan a city e-government network.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="start with: govnet topo check; sudo govnet lab run baseline",
    )
    p.add_argument("--version", action="version", version=f"govnet {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")

    topo = sub.add_parser(
        "topo",
        help="the network model and its emulation",
        epilog=EPILOG_TOPO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = topo.add_subparsers(dest="topo_cmd", metavar="VERB")
    model_help = "model file, or a bundled model name (weihai, small); default: the reference model"
    c = tsub.add_parser("check", help="validate a model file (exit 2 with one line per problem)")
    c.add_argument("model", nargs="?", help=model_help)
    c.set_defaults(func=cmd_topo_check)
    s = tsub.add_parser("show", help="print the expanded model (summary, --json or --yaml)")
    s.add_argument("model", nargs="?", help=model_help)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="nodes, links, VLANs, LANs, zones as JSON")
    g.add_argument("--yaml", action="store_true", help="the normalised model, accepted by 'topo check'")
    s.set_defaults(func=cmd_topo_show)
    u = tsub.add_parser("up", help="build the model in Mininet (root)")
    u.add_argument("model", nargs="?", help=model_help)
    u.add_argument(
        "--check",
        action="store_true",
        help="verify reachability, link rates and ring healing, print a table, tear down",
    )
    u.add_argument("--cli", action="store_true", help="open Mininet's CLI on the running network")
    u.add_argument(
        "--no-pair",
        action="store_true",
        help="leave the firewall pair active/standby by OSPF cost (no state sync, steering or controller)",
    )
    u.set_defaults(func=cmd_topo_up)
    k = tsub.add_parser("caps", help="what this kernel can emulate (netem, VLAN, bonding, ...)")
    k.set_defaults(func=cmd_topo_caps)

    cl = sub.add_parser("clean", help="remove what a crashed govnet run left (namespaces, links, daemons)")
    cl.add_argument("--force", action="store_true", help="also stop emulations whose owner is still running")
    cl.set_defaults(func=cmd_clean)

    lab = sub.add_parser(
        "lab",
        help="lab scenarios: bring up, drive, check, report, tear down",
        epilog="example: sudo govnet lab run baseline",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lsub = lab.add_subparsers(dest="lab_cmd", metavar="VERB")
    r = lsub.add_parser(
        "run",
        help="run a lab scenario and write a report",
        description="Bring the scenario's network up, run its parts, write runs/<time>-<name>/report.md, "
        "tear everything down.",
        epilog="scenario keys (labs/scenarios/*.yaml):\n"
        "  name, description, model        what and where\n"
        "  checks: [reachability, rates, heal]\n"
        "  monitor: true                   metrics store, SNMP, host agents, device CLI\n"
        "  ids: true                       NIDS on the pair's links and the DMZ; blocks to the firewalls\n"
        "  validate: true                  flow simulator vs emulator on the same flows\n"
        "  traffic: {start_hour, hours, day_minutes, seed, clients, background, limits_hours}\n"
        "                                  a compressed working day of OA/approval users and voice/video\n"
        "  offsite: {size_mb, share}       the off-site backup copy across the network, verified\n"
        "examples:\n"
        "  sudo govnet lab run workday      # small model, about 1.5 min\n"
        "  sudo govnet lab run baseline     # the reference network, about 6 min",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("lab", help="scenario name (see 'govnet lab list') or a scenario YAML file")
    r.add_argument("--model", help="override the scenario's model (file or bundled name)")
    r.set_defaults(func=cmd_lab_run)
    ls = lsub.add_parser("list", help="the bundled scenarios")
    ls.set_defaults(func=cmd_lab_list)
    hsm = sub.add_parser(
        "hsm",
        help="HSM backup tiers: disk, optical and tape; policies, simulation, restore drills",
        epilog=EPILOG_HSM,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hsub = hsm.add_subparsers(dest="hsm_cmd", metavar="VERB")
    hs = hsub.add_parser(
        "simulate",
        help="replay synthetic access over a horizon; bytes per tier, recalls, latency, mounts, fill days",
        description="Replays Zipf-like access with drift over a synthetic catalog (numpy columns, synthetic "
        "sizes: no file bytes are written, so a million files take seconds) under a placement policy, and "
        "reports bytes per tier over time, recalls, mean/p95 recall latency on the device models, tape "
        "mounts, media cost per TB and the day each tier fills (null: never).",
        epilog="example: govnet hsm simulate --files 200000 --days 365 --policy 20/80+30/70 --disk-tb 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    hs.add_argument("--files", type=int, default=100_000, help="files at day 0 (default 100000)")
    hs.add_argument("--days", type=int, default=365, help="horizon in days (default 365)")
    hs.add_argument("--policy", default="20/80+30/70", help="20/80, 20/80+30/70 or age:DAYS[:TAPE_DAYS]")
    hs.add_argument("--seed", type=int, default=1, help="random seed (same seed, same run)")
    hs.add_argument("--growth", type=float, default=0.003, help="new files per day, fraction of --files")
    hs.add_argument("--mean-mb", type=float, default=20.0, help="mean file size in MB (lognormal)")
    hs.add_argument("--reads", type=float, default=0.02, help="reads per file per day")
    hs.add_argument("--disk-tb", type=float, help="disk array capacity in TB (default 50)")
    hs.add_argument("--optical-tb", type=float, help="optical library capacity in TB (default 100)")
    hs.add_argument("--tape-tb", type=float, help="tape library capacity in TB (default 3600, LTO-9)")
    hs.add_argument("--json", action="store_true", help="the report as JSON")
    hs.set_defaults(func=cmd_hsm_simulate)
    root_help = "store directory (default var/hsm, or $GOVNET_VAR/hsm)"
    hst = hsub.add_parser("status", help="files and bytes per tier of the store, pending steps, alarms")
    hst.add_argument("--root", help=root_help)
    hst.add_argument("--json", action="store_true", help="as JSON")
    hst.set_defaults(func=cmd_hsm_status)
    hd = hsub.add_parser("drill", help="back up sample data, then time and verify four restores")
    hd.add_argument("--root", help=root_help)
    hd.set_defaults(func=cmd_hsm_drill)
    hr = hsub.add_parser(
        "reclaim",
        help="copy live records of mostly-dead tape volumes to other volumes, then retire them",
        description="A volume whose live bytes are below --threshold percent of its written bytes is "
        "reclaimed: its live records are read in tape order and appended to another volume, the catalog "
        "is updated, and the volume is retired. Time is modelled on the library (robot, load, locate, "
        "stream). Exit 1 if a volume could not be emptied (a damaged record with no good copy).",
    )
    hr.add_argument("--root", help=root_help)
    hr.add_argument("--threshold", type=float, default=40.0, help="live percent below which (default 40)")
    hr.add_argument("--tier", choices=("tape", "optical"), default="tape", help="library (default tape)")
    hr.add_argument("--window-h", type=float, help="stop when this many modelled hours are used")
    hr.add_argument("--dry-run", action="store_true", help="only list the candidates and the modelled time")
    hr.add_argument("--json", action="store_true", help="as JSON")
    hr.set_defaults(func=cmd_hsm_reclaim)
    ho = hsub.add_parser(
        "offsite-plan",
        help="plan the off-site copy of an archive over the model: hosts, path, rate, window, commands",
        description="Picks the source (srv-backup, srv-file or the first server) and an off-site host that "
        "may connect to it, finds the path and its slowest link, paces the copy to --share of it and says "
        "whether it fits the backup window. Prints the two commands the lab runs in the emulated hosts "
        "(python -m backup_hsm.transfer serve / pull).",
    )
    ho.add_argument("archive", help="the backup archive to copy (its size and SHA-256 are read)")
    ho.add_argument("--model", help="model file or bundled name (default weihai)")
    ho.add_argument("--source", help="source host (default: chosen from the model)")
    ho.add_argument("--destination", help="off-site host (default: chosen from the model)")
    ho.add_argument("--window", default="22:3", help="backup window START_H:HOURS (default 22:3)")
    ho.add_argument("--share", type=float, default=0.5, help="fraction of the bottleneck to use")
    ho.add_argument("--out", default="/srv/offsite", help="directory on the off-site host")
    ho.add_argument(
        "--key-file",
        default="offsite.key",
        help="the shared key both hosts read (make it once: python -m backup_hsm.transfer keygen FILE)",
    )
    ho.add_argument("--json", action="store_true", help="as JSON")
    ho.set_defaults(func=cmd_hsm_offsite_plan)
    hsm.set_defaults(func=None, _parser=hsm)
    for parser in (hs, hst, hd, hr, ho):
        parser.set_defaults(_parser=parser)
    tsdb = sub.add_parser(
        "tsdb",
        help="the metrics store: a local VictoriaMetrics under var/tsdb/ (or $GOVNET_TSDB_URL)",
        epilog=EPILOG_TSDB,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dsub = tsdb.add_subparsers(dest="tsdb_cmd", metavar="VERB")
    du = dsub.add_parser("up", help="start the local store (idempotent) and wait until it answers")
    du.add_argument("--port", type=int, help="port on 127.0.0.1 (default 8428, or a free one if taken)")
    du.add_argument("--retention", default="30d", help="how long points are kept (default 30d)")
    du.set_defaults(func=cmd_tsdb_up)
    dd = dsub.add_parser("down", help="stop the local store started by 'govnet tsdb up'")
    dd.set_defaults(func=cmd_tsdb_down)
    dst = dsub.add_parser("status", help="the URL in use; exit 1 if the store does not answer")
    dst.set_defaults(func=cmd_tsdb_status)
    tsdb.set_defaults(func=None, _parser=tsdb)
    for parser in (du, dd, dst):
        parser.set_defaults(_parser=parser)
    for parser in (topo, lab):
        parser.set_defaults(func=None, _parser=parser)
    for parser in (c, s, u, k, r, ls):
        parser.set_defaults(_parser=parser)
    wi = sub.add_parser(
        "whatif",
        help="capacity what-ifs on the flow-level simulator: growth, failures, N-1 (no root, seconds)",
        epilog="examples:\n  govnet whatif --grow approval=2 --fail core2--core3\n"
        "  govnet whatif --n-1 --json | jq '.links | max_by(.worst_utilisation)'\n"
        "  govnet whatif small --fail fw-inner--core1#1 --grow file=20\n"
        "  govnet whatif --grow file=3 --storage          # when do the HSM tiers fill?\n"
        "  govnet whatif --n-1 --plot n1.svg\n"
        "  govnet whatif --sweep sweep.yaml --workers 2   # or --cluster tcp://scheduler:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wi.add_argument("model", nargs="?", help=model_help)
    wi.add_argument(
        "--grow", action="append", default=[], metavar="CLASS_OR_SITE=FACTOR", help="scale demands"
    )
    wi.add_argument(
        "--fail",
        action="append",
        default=[],
        metavar="LINK|NODE|MEMBER",
        help="take a link, member or node down",
    )
    wi.add_argument(
        "--n-1", action="store_true", help="worst utilisation of each link over every single failure"
    )
    wi.add_argument("--add-bureaus", type=int, default=0, metavar="N", help="add N bureaus (bureau-bNN)")
    wi.add_argument(
        "--demands", metavar="FILE", help="JSON list of {src, dst, class, mbps} (default: built-in)"
    )
    wi.add_argument("--json", action="store_true", help="links, saturated links, classes, unroutable as JSON")
    wi.add_argument(
        "--storage",
        action="store_true",
        help="also run the HSM simulation on the same growth: when tiers fill",
    )
    wi.add_argument(
        "--storage-files", type=int, default=20_000, metavar="N", help="HSM files at day 0 (20000)"
    )
    wi.add_argument("--storage-days", type=int, default=365, metavar="D", help="HSM horizon in days (365)")
    wi.add_argument("--storage-policy", default="20/80+30/70", metavar="P", help="HSM placement policy")
    wi.add_argument("--disk-tb", type=float, metavar="TB", help="HSM disk array capacity (default 50)")
    wi.add_argument(
        "--plot", metavar="FILE", help="per-link utilisation chart: FILE.svg, or FILE.png (matplotlib)"
    )
    wi.add_argument(
        "--sweep", metavar="FILE", help="YAML/JSON list of what-ifs {name, grow, fail, add_bureaus, n_1}"
    )
    wi.add_argument("--workers", type=int, metavar="N", help="sweep processes (default: one per CPU)")
    wi.add_argument(
        "--cluster", metavar="ADDRESS", help="run the sweep on this Dask scheduler (tcp://host:8786)"
    )
    wi.set_defaults(func=cmd_whatif, _parser=wi)
    # audit parser (ids.audit) --
    aud = sub.add_parser(
        "audit",
        help="login audit: parse sshd/PAM/app logs, the hash-chained ledger, account policy, report",
        epilog=EPILOG_AUDIT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    asub = aud.add_subparsers(dest="audit_cmd", metavar="VERB")
    raw = argparse.RawDescriptionHelpFormatter
    ledger_help = "ledger database (default var/audit/ledger.db)"
    kind_help = "sshd (OpenSSH lines), pam (pam_* lines), auth (both: an auth.log), app (OA/approval events)"
    year_help = "year of year-less syslog dates (default: the file's modification year)"
    ap = asub.add_parser(
        "parse",
        help="print the login events of a log file (one JSON object a line with --json)",
        epilog="example:\n  govnet audit parse --kind sshd /var/log/auth.log --json\n"
        '  {"line": 12, "time": "2026-11-22T06:01:02.000000+00:00", "user": "bob", "host": "10.0.0.5", '
        '"result": "failure", "reason": "failed-password", ...}',
        formatter_class=raw,
    )
    ap.add_argument("--kind", required=True, choices=["sshd", "pam", "auth", "app"], help=kind_help)
    ap.add_argument("file", help="the log file (app: JSON lines, the /events reply, or the service's .db)")
    ap.add_argument("--json", action="store_true", help="one JSON object per login event")
    ap.add_argument("--year", type=_year, help=year_help)
    ap.set_defaults(func=cmd_audit_parse)
    ai = asub.add_parser(
        "ingest",
        help="parse a log into the ledger and apply the account policy (locks, blocks, anomalies)",
        epilog="example:\n  govnet audit ingest --kind auth auth.log --ledger lab.db --events events.json",
        formatter_class=raw,
    )
    ai.add_argument("--kind", required=True, choices=["sshd", "pam", "auth", "app"], help=kind_help)
    ai.add_argument("file", help="the log file")
    ai.add_argument("--ledger", help=ledger_help)
    ai.add_argument("--policy", help="policy file (YAML or JSON; default: the plan's numbers)")
    ai.add_argument("--year", type=_year, help=year_help)
    ai.add_argument("--events", help="also append decisions and anomaly alerts to this EVE JSON-lines file")
    ai.add_argument("--from-start", action="store_true", help="ignore the saved read position of this file")
    ai.set_defaults(func=cmd_audit_ingest)
    av = asub.add_parser(
        "verify",
        help="check the ledger's hash chain; exit 1 naming the first edited, removed or reordered record",
        epilog="example:\n  govnet audit verify --ledger lab.db\n  lab.db: ok — 1204 records, head 3f1c",
        formatter_class=raw,
    )
    av.add_argument("--ledger", help=ledger_help)
    av.set_defaults(func=cmd_audit_verify)
    ar = asub.add_parser(
        "report",
        help="lockouts, top failing users and sources, anomalies (text, or --json)",
        epilog="example:\n  govnet audit report --top 5\n  govnet audit report --json | jq .lockouts",
        formatter_class=raw,
    )
    ar.add_argument("--ledger", help=ledger_help)
    ar.add_argument("--policy", help="policy file (anomaly threshold); default: the plan's numbers")
    ar.add_argument("--top", type=int, default=10, help="how many users and sources to list (default 10)")
    ar.add_argument("--json", action="store_true", help="the report as JSON")
    ar.set_defaults(func=cmd_audit_report)
    apc = asub.add_parser(
        "policy-check",
        help="validate a policy file (one line per mistake); --show prints the effective policy",
        epilog="examples:\n  govnet audit policy-check policy.yaml\n  govnet audit policy-check --show",
        formatter_class=raw,
    )
    apc.add_argument("file", nargs="?", help="policy file (YAML or JSON)")
    apc.add_argument("--show", action="store_true", help="print the effective policy as JSON")
    apc.set_defaults(func=cmd_audit_policy_check)
    aud.set_defaults(func=None, _parser=aud)
    for parser in (ap, ai, av, ar, apc):
        parser.set_defaults(_parser=parser)
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
    # fw parser (firewall) --
    fw = sub.add_parser(
        "fw",
        help="the firewall pair of a running emulation: status, drain a member, add it back",
        description="Talk to the pair controller of the running emulation (started by 'govnet topo up' or "
        "'govnet lab run' on a model with firewall_members >= 2).",
        epilog="examples:\n  govnet fw status            # members, shares, sessions, sync, alarms\n"
        "  govnet fw drain fw-b        # maintenance: its sessions move to fw-a (state is synced)\n"
        "  govnet fw add fw-b          # back in service: takes ~1/N of the slots\n"
        "exit status of status: 0 healthy, 1 when an alarm is raised",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fsub = fw.add_subparsers(dest="fw_cmd", metavar="ACTION")
    fw_parsers = [
        fsub.add_parser("status", help="members, shares, sessions, sync health and alarms"),
        fsub.add_parser("drain", help="take MEMBER out of service without dropping its sessions"),
        fsub.add_parser("add", help="bring MEMBER (back) into service; moves about 1/N of flows to it"),
    ]
    for fp in fw_parsers:
        if fp.prog.endswith(("drain", "add")):
            fp.add_argument("member", metavar="MEMBER", help="firewall member name, e.g. fw-b")
        fp.add_argument("--json", action="store_true", help="machine-readable output")
        fp.add_argument("--socket", help=argparse.SUPPRESS)
        fp.set_defaults(func=cmd_fw, _parser=fp)
    fw.set_defaults(func=None, _parser=fw)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Any = getattr(args, "func", None)
    if func is None:
        (getattr(args, "_parser", None) or parser).print_help()
        return 2
    try:
        return int(func(args))
    except ModelError as exc:
        for prob in exc.problems:
            print(prob, file=sys.stderr)
        return exc.exit_code
    except GovnetError as exc:
        print(f"govnet: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        from govnet.signals import interrupted_message

        print(f"govnet: {interrupted_message()}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
