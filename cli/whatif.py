"""`govnet whatif`: capacity what-ifs on the flow-level simulator (and the HSM storage horizon)."""

from __future__ import annotations

import argparse
import json

from cli.common import MODEL_HELP, Subparsers, progress, say


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
        say(json.dumps(sweep.to_dict(), indent=1) if args.json else sweep.table())
        return 1 if sweep.failed else 0
    w = run_whatif(net, demands, args.grow, args.fail, args.n_1, args.add_bureaus)
    out = w.to_dict() if args.json else {}
    text = [w.table()]
    if args.storage:  # capacity may not import backup_hsm: the HSM simulation is composed here
        from backup_hsm import run_simulation
        from capacity.storage import format_storage, storage_report, whatif_growth

        progress(f"HSM simulation: {args.storage_files} files over {args.storage_days} days")
        out["storage"] = storage = storage_report(
            whatif_growth(net, w, demands),
            lambda p: run_simulation(**p),
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
    say(json.dumps(out, indent=1) if args.json else "\n".join(text))
    return 0


def register(sub: Subparsers) -> None:
    """Add `whatif` to the `govnet` subcommands."""
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
    wi.add_argument("model", nargs="?", help=MODEL_HELP)
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
