"""`govnet fw` (status, drain, add): the firewall pair of a running emulation."""

from __future__ import annotations

import argparse
import json

from cli.common import Subparsers, say


def cmd_fw(args: argparse.Namespace) -> int:
    from firewall.pair import request

    if args.fw_cmd in ("drain", "add"):
        reply = request(args.fw_cmd, args.member, socket_path=args.socket)
        res = reply["result"]
        if args.json:
            say(json.dumps(res, indent=1))
        else:
            shares = ", ".join(f"{m} {v:.0%}" for m, v in res["shares"].items())
            say(f"{args.fw_cmd} {res['member']}: moved {res['moved_slots']} slot(s); slot shares {shares}")
        return 0
    st = request("status", socket_path=args.socket)["status"]
    if args.json:
        say(json.dumps(st, indent=1))
        return 0
    head = f"{'member':<10} {'state':<8} {'slots':>6} {'load':>6} {'sessions':>9} {'pkt/s':>9} {'Mbit/s':>8}"
    say(head + "  health")
    for m in st["members"]:
        say(
            f"{m['name']:<10} {m['state']:<8} {m['slot_share']:>6.0%} {m['load_share']:>6.0%}"
            f" {m['sessions']:>9} {m['pps']:>9.0f} {m['mbps']:>8.2f}  {'ok' if m['healthy'] else 'NO ANSWER'}"
        )
    sync = st["sync"]
    dead = f" ({', '.join(sync['dead_pairs'])})" if sync["dead_pairs"] else ""
    say(f"state sync: {sync['state']}{dead}")
    say(f"steering points: {', '.join(st['points'])}; evenness (max/min load) {st['evenness']:.2f}")
    say("alarms: " + (", ".join(st["alarms"]) or "none"))
    return 1 if st["alarms"] else 0


def register(sub: Subparsers) -> None:
    """Add `fw` to the `govnet` subcommands."""
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
