"""The `govnet` command: thin verbs that parse arguments and delegate.

Domain packages are imported inside each verb, so `govnet` itself depends on none of them and
`govnet --help` works on any machine.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
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
    with interrupts_on_signals(), Emulation(net, run, log=_progress) as emu:
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
            _say("press Ctrl-C to tear it down")
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
  govnet hsm status                          # the store under var/hsm/: files and bytes per tier, alarms
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

    with Hsm.open(args.root) as hsm:
        status = hsm.status()
    _say(json.dumps(status, indent=1) if args.json else hsm.format_status(status))
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
    from topology import load_model

    net = load_model(args.model)
    demands = load_demands(args.demands, net) if args.demands else None
    w = run_whatif(net, demands, args.grow, args.fail, args.n_1, args.add_bureaus)
    _say(json.dumps(w.to_dict(), indent=1) if args.json else w.table())
    return 0


# audit verbs (ids.audit) ---------------------------------------------------------------------


# ids verbs (ids.nids, ids.hids) ----------------------------------------------------------------


# fw verbs (firewall) ----------------------------------------------------------------------------


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
    r = lsub.add_parser("run", help="run a lab scenario and write a report")
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
    hsm.set_defaults(func=None, _parser=hsm)
    for parser in (hs, hst, hd):
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
        "  govnet whatif small --fail fw-inner--core1#1 --grow file=20",
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
    wi.set_defaults(func=cmd_whatif, _parser=wi)
    # audit parser (ids.audit) --
    # ids parser (ids.nids, ids.hids) --
    # fw parser (firewall) --
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
        print("govnet: interrupted; everything was torn down", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def _entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    _entry()
