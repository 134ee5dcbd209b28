"""The `govnet` command: thin verbs that parse arguments and delegate.

Domain packages are imported inside each verb, so `govnet` itself depends on none of them and
`govnet --help` works on any machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from typing import Any

from govnet import __version__
from govnet.errors import GovnetError, ModelError

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
    for parser in (topo, lab):
        parser.set_defaults(func=None, _parser=parser)
    for parser in (c, s, u, k, r, ls):
        parser.set_defaults(_parser=parser)
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
