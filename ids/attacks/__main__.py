"""`python -m ids.attacks scan|web ...`: the scapy part of the lab attack kit, run inside a lab host."""

from __future__ import annotations

import argparse
import sys

from ids.attacks.packets import scan_packets, send_socket, web_packets, web_requests
from ids.attacks.target import AttackError, check_target
from ids.attacks.tools import WEB_PORTS, scapy_web


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ids.attacks", description="scapy part of the lab attack kit")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sc = sub.add_parser("scan", help="send probes: syn, null, xmas, fin, udp")
    sc.add_argument("--target", required=True)
    sc.add_argument("--kind", default="syn")
    sc.add_argument("--ports", default="1-100")
    sc.add_argument("--seed", type=int, default=0)
    sc.add_argument("--inter", type=float, default=0.001, help="seconds between probes")
    wb = sub.add_parser("web", help="path traversal / SQL injection requests to the approval portal")
    wb.add_argument("--target", required=True)
    wb.add_argument("--port", type=int, default=WEB_PORTS["approval"])
    wb.add_argument("--kinds", default="traversal,sqli")
    wb.add_argument("--seed", type=int, default=0)
    wb.add_argument("--via", default="socket", choices=("socket", "raw", "both"))
    for p in (sc, wb):
        p.add_argument("--allow-public", action="store_true")
    args = ap.parse_args(argv)
    try:
        target = check_target(args.target, allow_public=args.allow_public)
        if args.cmd == "scan":
            from scapy.sendrecv import send

            pkts = scan_packets(target, args.ports, args.kind, args.seed)
            send(pkts, inter=args.inter, verbose=False)
            print(f"scan {args.kind}: sent {len(pkts)} probes to {target}")
            return 0
        kinds = [k for k in args.kinds.split(",") if k]
        scapy_web(target, port=args.port, kinds=kinds, via=args.via, allow_public=True)  # validates
        reqs = web_requests(target, args.port, kinds, args.seed)
        if args.via in ("raw", "both"):
            from scapy.sendrecv import send

            send(web_packets(target, args.port, reqs, args.seed), verbose=False)
            print(f"web: sent {len(reqs)} crafted segments to {target}:{args.port}")
        if args.via in ("socket", "both"):
            for req in reqs:
                print(f"{req.split(b' HTTP/', 1)[0].decode()} -> {send_socket(target, args.port, req)}")
        return 0
    except AttackError as exc:
        print(f"attacks: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
