"""`govnet topo` (check, show, up, schema, caps) and `govnet clean`: the network model and its emulation."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from typing import TYPE_CHECKING

from cli.common import MODEL_HELP, Subparsers, progress, say
from govnet.errors import GovnetError, NotRootError, UsageError

if TYPE_CHECKING:
    from topology import Network

EPILOG_TOPO = """examples:
  govnet topo check                          # validate the reference model
  govnet topo check my-city.yaml             # validate your own model (exit 2 + one line per problem)
  govnet topo show --json | jq '.nodes | length'
  govnet topo show small --yaml > my.yaml    # a normalised copy to edit
  govnet topo show --nodes --role firewall   # the node table: kind, site, zone, VLANs, addresses, rates
  govnet topo show --draw weihai.svg --fail core1--core2   # the picture, one ring link cut
  sudo govnet topo up small --check          # build it in Mininet, verify, tear down
  sudo govnet topo up --cli                  # the reference network with Mininet's CLI
"""


def cmd_topo_check(args: argparse.Namespace) -> int:
    from topology import load_model

    net = load_model(args.model)
    kinds = Counter(n.kind for n in net.nodes)
    say(
        f"{args.model or 'weihai (reference)'}: valid — {len(net.nodes)} nodes "
        f"({', '.join(f'{v} {k}' for k, v in sorted(kinds.items()))}), {len(net.links)} links, "
        f"{len(net.vlans)} VLANs"
    )
    return 0


def cmd_topo_show(args: argparse.Namespace) -> int:
    from topology import dump_model_yaml, load_model

    if args.role and not args.nodes:
        raise UsageError(f"--role {args.role}: filters the node table; add --nodes")
    if args.fail and not args.draw:
        raise UsageError(f"--fail {args.fail[0]}: marks a link in the picture; add --draw OUT.svg")
    net = load_model(args.model)
    if args.nodes:
        return _show_nodes(net, args.role)
    if args.draw:
        return _show_draw(net, args.model, args.draw, args.fail)
    if args.json:
        say(json.dumps(net.to_dict(), indent=1))
    elif args.yaml:
        sys.stdout.write(dump_model_yaml(net))
    else:
        say(f"model {net.name}: {len(net.nodes)} nodes, {len(net.links)} links")
        for kind, count in sorted(Counter(n.kind for n in net.nodes).items()):
            say(f"  {kind:13} {count}")
        say("links (kind, rate Mbit/s: count):")
        for (kind, bw), count in sorted(Counter((lk.kind, lk.bw_mbps) for lk in net.links).items()):
            say(f"  {kind:13} {bw:>7g}: {count}")
        say("VLANs:")
        for v in net.vlans:
            sites = sum(1 for lan in net.lans if lan.vlan == v.name)
            say(
                f"  {v.id:>4} {v.name:12} {v.subnet:16} zone {v.zone:11} {sites} site(s)"
                f"{'' if v.routed else ' (not routed)'}"
            )
    return 0


def _show_nodes(net: Network, role: str | None) -> int:
    from topology.draw import node_table, render_node_table

    kinds = sorted({n.kind for n in net.nodes})
    if role is not None and role not in kinds:
        raise UsageError(
            f"--role {role}: no node of that kind in model {net.name}; use one of {', '.join(kinds)}"
        )
    rows = node_table(net, [role] if role else ())
    say(render_node_table(rows))
    return 0


def _show_draw(net: Network, model: str | None, out: str, fail: list[str]) -> int:
    from topology.draw import FORMATS, check_picture_path, draw_network, find_links, link_names

    path = check_picture_path(out, "--draw")
    for value in fail:
        if not find_links(net, value):
            raise UsageError(
                f"--fail {value}: no link of that name in model {net.name}"
                f"{_close(value, link_names(net))}; links are named A--B (either order), a bundle's "
                f"members A--B#1, A--B#2; list them with "
                f"govnet topo show {model or 'weihai'} --json | jq -r '.links[].name'"
            )
    started = time.monotonic()
    draw_network(net, path, failed=fail)
    say(
        f"wrote {path} ({FORMATS[path.suffix.lower()]}, model {net.name}"
        + (f", failed: {', '.join(fail)}" if fail else "")
        + f") in {time.monotonic() - started:.1f} s"
    )
    return 0


def _close(word: str, valid: list[str]) -> str:
    import difflib

    near = difflib.get_close_matches(word, valid, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(near)}?)" if near else ""


def cmd_topo_caps(_args: argparse.Namespace) -> int:
    from topology.emulator import detect

    caps = detect()
    say(caps.table())
    if not caps.root:
        say("(run as root to probe the kernel)")
    return 0


def cmd_topo_up(args: argparse.Namespace) -> int:
    """The network and, unless --no-pair, its firewall pair: composed of parts like a lab (labs.Lab),
    with the checks part when --check."""
    from govnet.rundir import create_run_dir
    from govnet.signals import interrupts_on_signals
    from labs import Lab, compose
    from labs.parts.network import CHECKS
    from topology import load_model
    from topology.emulator import detect

    net = load_model(args.model)
    scenario = {
        "name": f"topo-{net.name}",
        "model": net.name,
        "firewall": not args.no_pair,
        "checks": list(CHECKS) if args.check else [],
    }
    parts = compose(scenario, net, "topo up")
    if os.geteuid() != 0:
        raise NotRootError("the emulator needs root (network namespaces): run 'sudo govnet topo up ...'")
    run = create_run_dir(f"topo-{net.name}")
    say(f"run directory: {run}")
    caps = detect()
    say(caps.summary())
    rc = 0
    with interrupts_on_signals(), Lab(net, run, scenario, parts, log=progress, caps=caps) as lab:
        ok = lab.run_programme()  # the pair starts (10), then the checks run (40)
        t = lab.emu.timings
        say(
            f"{net.name} is up: {len(net.nodes)} nodes, {len(net.links)} links "
            f"(build {t['build_s']:.1f} s, configure {t['configure_s']:.1f} s, "
            f"converge {t['converge_s']:.1f} s)"
        )
        if not ok:
            raise GovnetError(lab.error)
        report = getattr(lab.parts.get("checks"), "report", None)
        if report is not None:
            say(report.table())
            (run / "check.json").write_text(json.dumps(report.to_dict(), indent=1))
            rc = 0 if report.ok else 1
        if args.cli:
            from mininet.cli import CLI

            CLI(lab.emu.mn)
        elif not args.check:
            say(
                "press Ctrl-C to tear it down"
                + ("; 'govnet fw status' shows the firewall pair" if "firewall" in lab.parts else "")
            )
            while True:
                time.sleep(3600)
    say("torn down")
    return rc


def cmd_topo_schema(_args: argparse.Namespace) -> int:
    from topology.model_schema import model_json_schema

    say(json.dumps(model_json_schema(), indent=1))
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        raise GovnetError("govnet clean needs root (it removes namespaces and interfaces)")
    from topology.emulator import clean

    report = clean(force=args.force)
    say(report.summary())
    return 1 if report.skipped_owners else 0


def register(sub: Subparsers) -> None:
    """Add `topo` and `clean` to the `govnet` subcommands."""
    topo = sub.add_parser(
        "topo",
        help="the network model and its emulation",
        epilog=EPILOG_TOPO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tsub = topo.add_subparsers(dest="topo_cmd", metavar="VERB")
    c = tsub.add_parser("check", help="validate a model file (exit 2 with one line per problem)")
    c.add_argument("model", nargs="?", help=MODEL_HELP)
    c.set_defaults(func=cmd_topo_check)
    s = tsub.add_parser(
        "show",
        help="print the expanded model (summary, --json, --yaml, --nodes) or draw it (--draw)",
        description="Without options: a summary (node kinds, link rates, VLANs).\n"
        "--nodes: one row per node (kind, site, zone, VLANs, addresses, link rates).\n"
        "--draw: the star-plus-ring as a picture: the ring as a circle, each core's distribution\n"
        "switches and sites around it, a site's LANs as one box, the internet exit on top;\n"
        "cable width by rate, --fail links dashed red with an x.",
        epilog="examples:\n"
        "  govnet topo show small --nodes\n"
        "  govnet topo show --nodes --role router | less -S\n"
        "  govnet topo show --draw weihai.png\n"
        "  govnet topo show small --draw small.svg --fail core1--core2 --fail fw-a--isp#1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("model", nargs="?", help=MODEL_HELP)
    g = s.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="nodes, links, VLANs, LANs, zones as JSON")
    g.add_argument("--yaml", action="store_true", help="the normalised model, accepted by 'topo check'")
    g.add_argument(
        "--nodes",
        action="store_true",
        help="a node table: name, kind, site, zone, VLANs, addresses, link rates; by kind, then name",
    )
    g.add_argument(
        "--draw", metavar="OUT", help="draw the network into OUT.svg or OUT.png (labels readable, no hosts)"
    )
    s.add_argument("--role", metavar="KIND", help="with --nodes: only nodes of this kind (core, router, ...)")
    s.add_argument(
        "--fail",
        metavar="A--B",
        action="append",
        default=[],
        help="with --draw: draw this link as failed (dashed red, ×); repeatable; a bundle name marks "
        "all its members",
    )
    s.set_defaults(func=cmd_topo_show)
    u = tsub.add_parser("up", help="build the model in Mininet (root)")
    u.add_argument("model", nargs="?", help=MODEL_HELP)
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
    sc = tsub.add_parser(
        "schema",
        help="print the model files' JSON Schema (for editors: completion and checks while typing)",
        description="The JSON Schema (draft 2020-12) of network model files, derived from the same "
        "declarations 'govnet topo check' validates with. It checks fields, types and ranges; the "
        "cross-references (VLAN names, cores, overlapping subnets) are only checked by 'topo check'.",
        epilog="example:\n"
        "  govnet topo schema > model.schema.json\n"
        "  # VS Code (YAML extension), first line of a model file:\n"
        "  # yaml-language-server: $schema=./model.schema.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.set_defaults(func=cmd_topo_schema)
    k = tsub.add_parser("caps", help="what this kernel can emulate (netem, VLAN, bonding, ...)")
    k.set_defaults(func=cmd_topo_caps)

    cl = sub.add_parser("clean", help="remove what a crashed govnet run left (namespaces, links, daemons)")
    cl.add_argument("--force", action="store_true", help="also stop emulations whose owner is still running")
    cl.set_defaults(func=cmd_clean)
    topo.set_defaults(func=None, _parser=topo)
    for parser in (c, s, u, sc, k):
        parser.set_defaults(_parser=parser)
